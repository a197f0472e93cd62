"""Typed application state keys (``web.AppKey``)."""

from __future__ import annotations

from aiohttp import web

from flow_engine.admin.access import DirectoryService
from flow_engine.admin.configs import ConfigService
from flow_engine.admin.signin import SignInService
from flow_engine.data.service import DataService
from flow_engine.desk.history import TicketHistory
from flow_engine.desk.service import DeskService
from flow_engine.engine.config_cache import ConfigCache
from flow_engine.engine.pacing import Pacing
from flow_engine.engine.partitions import PartitionManager
from flow_engine.engine.skills.loader import SkillLoader
from flow_engine.gateway.base import Gateway
from flow_engine.gateway.skill_http import SkillHttpClient
from flow_engine.health import Health
from flow_engine.logging import LogThrottle
from flow_engine.metrics.registry import Metrics
from flow_engine.notify import NotifyService
from flow_engine.settings import Settings
from flow_engine.storage.base import Storage
from flow_engine.storage.tickets import TicketStore

SETTINGS = web.AppKey("settings", Settings)
STORAGE = web.AppKey("storage", Storage)
GATEWAY = web.AppKey("gateway", Gateway)
METRICS = web.AppKey("metrics", Metrics)
CONFIGS = web.AppKey("configs", ConfigCache)
PARTITIONS = web.AppKey("partitions", PartitionManager)
PACING = web.AppKey("pacing", Pacing)
SKILL_HTTP = web.AppKey("skill_http", SkillHttpClient)
SKILL_LOADER = web.AppKey("skill_loader", SkillLoader)
TICKETS = web.AppKey("tickets", TicketStore)
DIRECTORY = web.AppKey("directory", DirectoryService)
CONFIG_ADMIN = web.AppKey("config_admin", ConfigService)
DESK_SERVICE = web.AppKey("desk_service", DeskService)
HEALTH = web.AppKey("health", Health)
NOTIFY = web.AppKey("notify", NotifyService)
SIGNIN = web.AppKey("signin", SignInService)
DATA_SERVICE = web.AppKey("data_service", DataService)
HISTORY = web.AppKey("ticket_history", TicketHistory)
#: one log line per kind of store failure per interval, for the whole app
LOG_THROTTLE = web.AppKey("log_throttle", LogThrottle)
