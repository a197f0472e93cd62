"""All the Lua scripts of the Redis backend, in one place. Each touches keys of a single
hash slot."""

from __future__ import annotations

from flow_engine.domain.facts import WIDTH

# KEYS: dedupe mark, inbound stream. ARGV: ttl seconds, message JSON.
ENQUEUE = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], '*', 'm', ARGV[2])
  return 1
end
return 0
"""

# KEYS: conversation hash, inbound stream, outbox stream, schedule zset, jobs hash, facts
#       stream, known-contact mark, then (when ARGV[7] is not '') the send claim of each
#       outbox item, in order.
# ARGV: expected version, record JSON, entry id or '', record ttl ms (0 = kept for ever),
#       known-contact ttl ms (0 = no mark), first seen (the mark's value), send claim owner
#       or '', send claim ttl ms, number of schedule changes n, then n triples (job id, due
#       ms or '' to cancel, message), then the data facts JSON or '', then outbox items...
# Returns {1, unsent outbox entries before this commit, outbox ids...} or {0, stored version}.
# The hash field 'p' counts the conversation's unsent outbox entries. Every commit restarts
# the record's and the mark's time to live: they expire after that long idle. A claim is
# taken as CLAIM takes it: the items are new, so nobody else holds them or sent them.
COMMIT = """
local stored = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if stored ~= tonumber(ARGV[1]) then
  return {0, stored}
end
local jobs = tonumber(ARGV[9])
local facts = ARGV[10 + jobs * 3]
local first = 11 + jobs * 3
local pending = tonumber(redis.call('HGET', KEYS[1], 'p') or '0')
redis.call('HSET', KEYS[1], 'v', stored + 1, 'd', ARGV[2], 'p', pending + #ARGV - first + 1)
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
local known = tonumber(ARGV[5])
if known > 0 then redis.call('SET', KEYS[7], ARGV[6], 'PX', known) end
for j = 0, jobs - 1 do
  local id, due, msg = ARGV[10 + j * 3], ARGV[11 + j * 3], ARGV[12 + j * 3]
  if due == '' then
    redis.call('ZREM', KEYS[4], id)
    redis.call('HDEL', KEYS[5], id)
  else
    redis.call('ZADD', KEYS[4], due, id)
    redis.call('HSET', KEYS[5], id, msg)
  end
end
if facts ~= '' then redis.call('XADD', KEYS[6], '*', 'f', facts) end
local out = {1, pending}
for i = first, #ARGV do
  out[#out + 1] = redis.call('XADD', KEYS[3], '*', 'o', ARGV[i])
  if ARGV[7] ~= '' then redis.call('SET', KEYS[8 + i - first], ARGV[7], 'PX', ARGV[8]) end
end
if ARGV[3] ~= '' then redis.call('XDEL', KEYS[2], ARGV[3]) end
return out
"""

# KEYS: conversation hash, known-contact mark. Returns the record JSON; or {first seen} when
# the record expired but the contact is still known; or nil.
LOAD = """
local d = redis.call('HGET', KEYS[1], 'd')
if d then return d end
local known = redis.call('GET', KEYS[2])
if known then return {known} end
return false
"""

# KEYS: answer mark, surveys stream. ARGV: ttl seconds, answer JSON, entries kept.
# Appends the answer once per mark; returns 1 when appended, 0 when it was already.
SURVEY_RECORD = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 's', ARGV[2])
  return 1
end
return 0
"""

# KEYS: sent mark, outbox stream, send claim, conversation hash, facts stream, outbox retry hash.
# ARGV: ttl seconds, entry id, gateway id, data facts JSON or ''. The mark keeps '1', not
# the gateway id: nothing reads it, and a real wamid makes each 7-day mark 80 bytes larger.
COMPLETE = """
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
redis.call('DEL', KEYS[3])
redis.call('HDEL', KEYS[6], ARGV[2])
local removed = redis.call('XDEL', KEYS[2], ARGV[2])
if removed == 1 and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HINCRBY', KEYS[4], 'p', -1)
end
if removed == 1 and ARGV[4] ~= '' then redis.call('XADD', KEYS[5], '*', 'f', ARGV[4]) end
return removed
"""

# KEYS: outbox stream, outbox retry hash. ARGV: entry id, retry state.
# Keeps the retry state of an entry still in the outbox; returns 1, or 0 when it is gone.
SCHEDULE_RETRY = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
return 1
"""

# KEYS: sent mark, send claim. ARGV: owner, ttl ms. Returns 'ok', 'sent' or 'busy'.
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 'sent' end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[1] then return 'busy' end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
return 'ok'
"""

# KEYS: inbound stream, dead letters. ARGV: entry id, error.
DEAD_LETTER = """
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return 0 end
local fields = found[1][2]
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 10000, '*', fields[1], fields[2], 'error', ARGV[2],
           'entry', ARGV[1])
redis.call('XDEL', KEYS[1], ARGV[1])
return 1
"""

# KEYS: lease. ARGV: owner, ttl ms. Renews the owner's lease, or takes it back when no one
# holds it (it expired during an outage, or the store lost its data); 0 when another does.
RENEW = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS: process heartbeats zset. ARGV: owner, now ms, ttl ms.
# Returns {how many processes are alive (their heartbeat has not expired), 1 when this
# owner was not among them (it rejoins)}.
HEARTBEAT = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local added = redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
return {redis.call('ZCARD', KEYS[1]), added}
"""

# KEYS: audit list. ARGV: audit cap, then entries JSON (in order). Newest first, trimmed.
AUDIT_APPEND = """
for i = 2, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
return 1
"""

# KEYS: audit list. ARGV: chunk size. Returns {length, newest entries…} read at one instant.
AUDIT_HEAD = """
local out = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
table.insert(out, 1, redis.call('LLEN', KEYS[1]))
return out
"""

# GCRA reservation. KEYS: rate key. ARGV: interval ms, burst ms.
# Returns the wait in microseconds before the reserved slot may be used.
RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1]) * 1000
local burst = tonumber(ARGV[2]) * 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX',
           math.ceil((new_tat - now) / 1000) + 1000)
local wait = new_tat - burst - now
if wait < 0 then wait = 0 end
return wait
"""

# KEYS: schedule zset, jobs hash, inbound stream. ARGV: now ms, limit.
# Moves due jobs into the inbound queue, each exactly once. Returns how many.
RELEASE_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, id in ipairs(due) do
  local msg = redis.call('HGET', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
  if msg then redis.call('XADD', KEYS[3], '*', 'm', msg) end
end
return #due
"""

# KEYS: numbers set, audit list, then per change: its versions list, its config key; last
#       the commit counter (also the name of the channel commits are published on).
# ARGV: number of changes n, audit cap, then per change: number, expected version,
#       version record JSON, config JSON; then audit entries JSON (in order).
# Checks every expected version before writing anything: returns {0, number, actual, ...}
# for the stale ones (nothing written), else writes everything, counts the commit,
# publishes '<generation> <number> <number>…' and returns {1, generation}.
CONFIG_COMMIT = """
local n = tonumber(ARGV[1])
local stale = {0}
for i = 1, n do
  local actual = redis.call('LLEN', KEYS[1 + 2 * i])
  local a = 2 + (i - 1) * 4
  if actual ~= tonumber(ARGV[a + 2]) then
    stale[#stale + 1] = ARGV[a + 1]
    stale[#stale + 1] = actual
  end
end
if #stale > 1 then return stale end
for i = 1, n do
  local a = 2 + (i - 1) * 4
  redis.call('RPUSH', KEYS[1 + 2 * i], ARGV[a + 3])
  redis.call('SET', KEYS[2 + 2 * i], ARGV[a + 4])
  redis.call('SADD', KEYS[1], ARGV[a + 1])
end
local first = 3 + n * 4
for i = first, #ARGV do redis.call('LPUSH', KEYS[2], ARGV[i]) end
if #ARGV >= first then redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[2]) - 1) end
local generation = redis.call('INCR', KEYS[#KEYS])
local told = {generation}
for i = 1, n do told[#told + 1] = ARGV[2 + (i - 1) * 4 + 1] end
redis.call('PUBLISH', KEYS[#KEYS], table.concat(told, ' '))
return {1, generation}
"""

# KEYS: directory document, directory version, audit list.
# ARGV: expected version, document, audit cap, then audit entries JSON (in order).
# Returns the new version, or 0 (nothing written) if the version is not the expected one.
DIRECTORY_SWAP = """
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
if current ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
local version = redis.call('INCR', KEYS[2])
for i = 4, #ARGV do redis.call('LPUSH', KEYS[3], ARGV[i]) end
if #ARGV >= 4 then redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[3]) - 1) end
return version
"""

# --------------------------------------------------------------------------- data rollups
# A *plan* (JSON, built by redis_rollups.PlanBuilder) applies the facts of one number to
# its rollup keys (one string per part and month), all in the number's {n<number>} slot:
#   {"i": [[key index, part, block name, day of month - 1, lane, delta], ...],  BITFIELD
#    "a": [[key index, contact], ...],                          PFADD
#    "x": [[key index, expire at], ...]}                        EXPIREAT
# Blocks are numbered per number and part in the blocks hash (``<part>|<name>`` -> index;
# ``#<part>`` counts them); the one block of part d is ''. Block b of day i of a month
# starts at lane (b * 31 + i) * width. A lane never goes below 0.
#: a fragment, not a script: the rollup scripts below begin with it
_ROLLUP_APPLY = (
    """
local WIDTH = {d = @d@, q = @q@, n = @n@}
local function block_of(blocks, part, name)
  if name == '' then return 0 end
  local field = part .. '|' .. name
  local index = redis.call('HGET', blocks, field)
  if index then return tonumber(index) end
  index = redis.call('HINCRBY', blocks, '#' .. part, 1) - 1
  redis.call('HSET', blocks, field, index)
  return index
end
local function apply_plan(blocks, plan)
  for _, op in ipairs(plan['i']) do
    local key = KEYS[op[1]]
    local width = WIDTH[op[2]]
    local offset = '#' .. ((block_of(blocks, op[2], op[3]) * 31 + op[4]) * width + op[5])
    local delta = op[6]
    if delta < 0 then
      local current = redis.call('BITFIELD', key, 'GET', 'i64', offset)[1]
      if current + delta < 0 then delta = -current end
    end
    if delta ~= 0 then
      redis.call('BITFIELD', key, 'INCRBY', 'i64', offset, string.format('%d', delta))
    end
  end
  for _, a in ipairs(plan['a']) do redis.call('PFADD', KEYS[a[1]], a[2]) end
  for _, x in ipairs(plan['x']) do
    if redis.call('EXISTS', KEYS[x[1]]) == 1 then redis.call('EXPIREAT', KEYS[x[1]], x[2]) end
  end
end
""".replace("@d@", str(WIDTH["d"]))
    .replace("@q@", str(WIDTH["q"]))
    .replace("@n@", str(WIDTH["n"]))
)

# KEYS: blocks hash, cursor hash, then the rollup keys of the plans.
# ARGV: partition, then per fact: its stream id ms, its seq, its plan JSON.
# Applies the facts after the number's cursor for that partition; returns how many.
ROLLUP_FOLD = (
    _ROLLUP_APPLY
    + """
local cursor = redis.call('HGET', KEYS[2], ARGV[1])
local cms, cseq = -1, -1
if cursor then
  local dash = string.find(cursor, '-', 1, true)
  cms, cseq = tonumber(string.sub(cursor, 1, dash - 1)), tonumber(string.sub(cursor, dash + 1))
end
local applied = 0
local last = nil
for i = 2, #ARGV, 3 do
  local ms, seq = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if ms > cms or (ms == cms and seq > cseq) then
    apply_plan(KEYS[1], cjson.decode(ARGV[i + 2]))
    applied = applied + 1
    cms, cseq = ms, seq
    last = ARGV[i] .. '-' .. ARGV[i + 1]
  end
end
if last then redis.call('HSET', KEYS[2], ARGV[1], last) end
return applied
"""
)

# KEYS: scratch keys of one slot, one per HyperLogLog. ARGV: the HyperLogLogs (their
# string values). Returns the cardinality of their union.
ACTIVES_UNION = """
for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[i], 'PX', 60000) end
local count = redis.call('PFCOUNT', unpack(KEYS))
redis.call('DEL', unpack(KEYS))
return count
"""

# KEYS: ticket hash, number set, status set, open-ticket key, rollup blocks hash, then the
#       rollup keys of the plan.
# ARGV: id, ticket JSON, created_at, '1' when the ticket is open, version, rollup plan or ''.
# Returns {1} created (and its facts applied), {0, stored JSON} when the id exists, {2,
# holder id} when the contact has another open ticket.
TICKET_CREATE = (
    _ROLLUP_APPLY
    + """
local stored = redis.call('HGET', KEYS[1], 'd')
if stored then return {0, stored} end
if ARGV[4] == '1' then
  local holder = redis.call('GET', KEYS[4])
  if holder and holder ~= ARGV[1] then return {2, holder} end
  redis.call('SET', KEYS[4], ARGV[1])
end
redis.call('HSET', KEYS[1], 'v', ARGV[5], 'd', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
if ARGV[6] ~= '' then apply_plan(KEYS[5], cjson.decode(ARGV[6])) end
return {1}
"""
)

# KEYS: ticket hash, old status set, new status set, open-ticket key, rollup blocks hash,
#       then the rollup keys of the plan.
# ARGV: id, ticket JSON, created_at, '1' when the ticket is open, expected version, rollup
#       plan or ''.
# Returns 1 when saved (as version + 1, its facts applied), 0 when the stored version
# differs or is missing.
TICKET_SAVE = (
    _ROLLUP_APPLY
    + """
local stored = redis.call('HGET', KEYS[1], 'v')
if not stored or tonumber(stored) ~= tonumber(ARGV[5]) then return 0 end
redis.call('HSET', KEYS[1], 'v', tonumber(stored) + 1, 'd', ARGV[2])
if KEYS[2] ~= KEYS[3] then
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
end
if ARGV[4] ~= '1' and redis.call('GET', KEYS[4]) == ARGV[1] then
  redis.call('DEL', KEYS[4])
end
if ARGV[6] ~= '' then apply_plan(KEYS[5], cjson.decode(ARGV[6])) end
return 1
"""
)


# --- health (storage/redis_health.py) ---------------------------------------------------------
# Schedules one job: KEYS due zset, payload hash; args key, due, payload, replace ('1'/'0').
_HEALTH_SCHEDULE_FN = """
local function schedule(due_key, payload_key, key, due, payload, replace)
  if replace ~= '1' and redis.call('ZSCORE', due_key, key) then return end
  redis.call('ZADD', due_key, due, key)
  redis.call('HSET', payload_key, key, payload)
end
"""

# KEYS: record hash, days hash, changes list, then per job: its due zset and payload hash.
# ARGV: expected version, record JSON, snapshot day ('' for none), snapshot JSON, oldest
# day kept, change JSON ('' for none), changes kept, job count, then per job: key, due,
# payload, replace. Returns 1 saved, 0 when the stored version is not the expected one.
HEALTH_SAVE = (
    _HEALTH_SCHEDULE_FN
    + """
local stored = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if stored ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1] + 1, 'd', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], ARGV[4]) end
for _, day in ipairs(redis.call('HKEYS', KEYS[2])) do
  if day < ARGV[5] then redis.call('HDEL', KEYS[2], day) end
end
if ARGV[6] ~= '' then
  redis.call('RPUSH', KEYS[3], ARGV[6])
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[7]), -1)
end
for i = 1, tonumber(ARGV[8]) do
  local a = 8 + (i - 1) * 4
  schedule(KEYS[2 + 2 * i], KEYS[3 + 2 * i], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
end
return 1
"""
)

# KEYS: per job its due zset and payload hash. ARGV: per job key, due, payload, replace.
HEALTH_SCHEDULE = (
    _HEALTH_SCHEDULE_FN
    + """
for i = 1, #KEYS / 2 do
  local a = (i - 1) * 4
  schedule(KEYS[2 * i - 1], KEYS[2 * i], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4])
end
return 1
"""
)

# KEYS: due zset, payload hash, attempts hash. ARGV: now, token (the claim's end), limit.
# Returns {key, payload, attempts, ...} of each job claimed (due moved to the token).
HEALTH_CLAIM = """
local ready = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[3])
local out = {}
for _, key in ipairs(ready) do
  redis.call('ZADD', KEYS[1], ARGV[2], key)
  out[#out + 1] = key
  out[#out + 1] = redis.call('HGET', KEYS[2], key) or ''
  out[#out + 1] = redis.call('HGET', KEYS[3], key) or '0'
end
return out
"""

# KEYS: due zset, payload hash, attempts hash. ARGV: key, token. Drops the job if its due
# time is still the claim's token. Returns 1 dropped, 0 scheduled again since.
HEALTH_FINISH = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
return 1
"""

# KEYS: due zset, attempts hash. ARGV: key, token, new due. Returns 1 moved, 0 otherwise.
HEALTH_RETRY = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
return 1
"""

# KEYS: events hash, order zset, sequence. ARGV: id, event JSON, kept.
# Returns 1 kept, 0 when the id is kept already.
HEALTH_EVENT = """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[3])
if extra > 0 then
  for _, old in ipairs(redis.call('ZPOPMIN', KEYS[2], extra)) do
    redis.call('HDEL', KEYS[1], old)
  end
end
return 1
"""

# KEYS: daily hash. ARGV: day, owner, now, lease end. Returns 'done', 'busy' or 'ok'.
HEALTH_DAILY_BEGIN = """
if redis.call('HGET', KEYS[1], 'done') == ARGV[1] then return 'done' end
local holder = redis.call('HGET', KEYS[1], 'owner')
local untl = tonumber(redis.call('HGET', KEYS[1], 'until') or '0')
if holder and holder ~= ARGV[2] and untl > tonumber(ARGV[3]) then return 'busy' end
redis.call('HSET', KEYS[1], 'owner', ARGV[2], 'until', ARGV[4], 'day', ARGV[1])
return 'ok'
"""

# KEYS: daily hash. ARGV: day, owner, lease end ('' to finish: mark the day done).
HEALTH_DAILY_RENEW = """
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[2] then return 0 end
if redis.call('HGET', KEYS[1], 'day') ~= ARGV[1] then return 0 end
if ARGV[3] == '' then
  redis.call('HSET', KEYS[1], 'done', ARGV[1])
  redis.call('HDEL', KEYS[1], 'owner', 'until', 'day')
else
  redis.call('HSET', KEYS[1], 'until', ARGV[3])
end
return 1
"""

# KEYS: activation hash. ARGV: now, interval, method. Returns '0' recorded, else the
# seconds to wait.
HEALTH_CODE_REQUEST = """
local last = redis.call('HGET', KEYS[1], 'requested_at')
if last then
  local waited = tonumber(ARGV[1]) - tonumber(last)
  if waited < tonumber(ARGV[2]) then return tostring(tonumber(ARGV[2]) - waited) end
end
redis.call('HSET', KEYS[1], 'requested_at', ARGV[1], 'method', ARGV[3])
return '0'
"""

# KEYS: activation hash. ARGV: the request time to forget.
HEALTH_CODE_CANCEL = """
if redis.call('HGET', KEYS[1], 'requested_at') == ARGV[1] then
  redis.call('HDEL', KEYS[1], 'requested_at')
end
return 1
"""

# ------------------------------------------------------------------ notifications
# A campaign recipient is one hash field: index -> 'status|phone|sender|wamid|sent|
# delivered|read|failed|replied|code|replied_by|values' (storage/notifications.py,
# Recipient.encode); status letters p s f d r y rank 0..5.
_RECIPIENT = """
local RANK = {p = 0, s = 1, f = 2, d = 3, r = 4, y = 5}
local NAME = {p = 'pending', s = 'sent', f = 'failed', d = 'delivered', r = 'read',
              y = 'replied'}
local IMPLIED = {s = {5}, d = {5, 6}, r = {5, 6, 7}, f = {8}, y = {9}}
local function split(s)
  local t, start = {}, 1
  for i = 1, 11 do
    local j = string.find(s, '|', start, true)
    if j then
      t[i] = string.sub(s, start, j - 1)
      start = j + 1
    else
      t[i] = string.sub(s, start)
      start = #s + 2
    end
  end
  t[12] = string.sub(s, start)
  return t
end
local function moves(old, new)
  if new == 'f' and RANK[old] > 2 then return false end
  if new == 'y' and old == 'f' then return false end
  return RANK[new] > RANK[old]
end
"""

# KEYS: recipients hash, counts hash, titles hash, inflight zset.
# ARGV: keep values '1'/'0', then 8 per change: index, lane ('' unless it was claimed),
#       status letter, at (s), wamid, code, title, replied_by.
# Applies each change (forward only), keeps the counts, takes claimed ones out of flight.
# Returns 4 per change: index, before, after (names), '1' when replied_by is the reply.
NOTIFY_APPLY = (
    _RECIPIENT
    + """
local out = {}
for i = 2, #ARGV, 8 do
  local index, lane, st, at = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  if lane ~= '' then redis.call('ZREM', KEYS[4], lane .. '|' .. index) end
  local raw = redis.call('HGET', KEYS[1], index)
  if raw then
    local t = split(raw)
    local before = t[1]
    local moved = moves(before, st)
    if moved then
      t[1] = st
      if st == 'y' then t[11] = ARGV[i + 7] end
    end
    -- a failure after a delivery leaves no trace (it did not fail)
    if st == 'f' and not moved then st = '' end
    for _, f in ipairs(IMPLIED[st] or {}) do
      if t[f] == '' then t[f] = at end
    end
    if ARGV[i + 4] ~= '' and t[4] == '' then t[4] = ARGV[i + 4] end
    if st == 'f' and ARGV[i + 5] ~= '' then
      if t[10] == '' then t[10] = ARGV[i + 5] end
      if ARGV[i + 6] ~= '' then redis.call('HSETNX', KEYS[3], ARGV[i + 5], ARGV[i + 6]) end
    end
    if ARGV[1] == '0' and (st == 's' or st == 'f') then t[12] = '' end
    redis.call('HSET', KEYS[1], index, table.concat(t, '|'))
    if t[1] ~= before then
      redis.call('HINCRBY', KEYS[2], NAME[before], -1)
      redis.call('HINCRBY', KEYS[2], NAME[t[1]], 1)
    end
    local reply = '0'
    if st == 'y' and t[1] == 'y' and t[11] == ARGV[i + 7] then reply = '1' end
    out[#out + 1] = index
    out[#out + 1] = NAME[before]
    out[#out + 1] = NAME[t[1]]
    out[#out + 1] = reply
  end
end
return out
"""
)

# KEYS: lane todo list, inflight zset, lanes hash, recipients hash.
# ARGV: lane, n, now, deadline, batch size (0: none), batch interval s.
# Returns {-1, next_at} when the lane may not send yet, else {0, index, record, ...}.
NOTIFY_CLAIM = """
local lane = ARGV[1]
local nextk, leftk = 'n:' .. lane, 'l:' .. lane
local now = tonumber(ARGV[3])
local next_at = tonumber(redis.call('HGET', KEYS[3], nextk) or '0')
if now < next_at then return {-1, tostring(next_at)} end
local take = tonumber(ARGV[2])
local bs = tonumber(ARGV[5])
local left = 0
if bs > 0 then
  left = tonumber(redis.call('HGET', KEYS[3], leftk) or '0')
  if left <= 0 then left = bs end
  if left < take then take = left end
end
local ids = redis.call('LPOP', KEYS[1], take) or {}
local out = {0}
for _, id in ipairs(ids) do
  local rec = redis.call('HGET', KEYS[4], id)
  if rec and string.sub(rec, 1, 1) == 'p' then
    redis.call('ZADD', KEYS[2], ARGV[4], lane .. '|' .. id)
    out[#out + 1] = id
    out[#out + 1] = rec
  end
end
if bs > 0 then
  left = left - #ids
  if left <= 0 then
    redis.call('HSET', KEYS[3], nextk, tostring(now + tonumber(ARGV[6])), leftk, bs)
  else
    redis.call('HSET', KEYS[3], leftk, left)
  end
end
return out
"""

# KEYS: lane todo list, inflight zset. ARGV: '1' to the front, lane, indexes...
NOTIFY_REQUEUE = """
local back = {}
for i = 3, #ARGV do
  if redis.call('ZREM', KEYS[2], ARGV[2] .. '|' .. ARGV[i]) == 1 then
    back[#back + 1] = ARGV[i]
  end
end
if #back == 0 then return 0 end
if ARGV[1] == '1' then
  for i = #back, 1, -1 do redis.call('LPUSH', KEYS[1], back[i]) end
else
  redis.call('RPUSH', KEYS[1], unpack(back))
end
return #back
"""

# KEYS: inflight zset, then each lane's todo list. ARGV: now, then the lanes (same order).
# Claims whose deadline passed go back to the front of their lane, in order.
NOTIFY_RECOVER = """
local lost = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local todo = {}
for i = 2, #ARGV do todo[ARGV[i]] = KEYS[i] end
table.sort(lost, function(a, b)
  return tonumber(string.match(a, '|(%d+)$')) > tonumber(string.match(b, '|(%d+)$'))
end)
local moved = 0
for _, member in ipairs(lost) do
  local lane, index = string.match(member, '^(.*)|(%d+)$')
  redis.call('ZREM', KEYS[1], member)
  if todo[lane] then
    redis.call('LPUSH', todo[lane], index)
    moved = moved + 1
  end
end
return moved
"""

# KEYS: campaign document, counts hash, then each lane's todo list.
# ARGV: expected document, new document, '1' when entering cancelled.
# Returns 0 (nothing written) when the document changed meanwhile.
NOTIFY_TRANSITION = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[3] == '1' then
  local left = 0
  for i = 3, #KEYS do
    left = left + redis.call('LLEN', KEYS[i])
    redis.call('DEL', KEYS[i])
  end
  redis.call('HINCRBY', KEYS[2], 'pending', -left)
  redis.call('HINCRBY', KEYS[2], 'skipped', left)
end
return 1
"""

# KEYS: the number's reached zset. ARGV: now, window s, limit, contacts...
# Returns {oldest score or '', 1/0 per contact}.
NOTIFY_REACH = """
local now, limit = tonumber(ARGV[1]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[2]))
local used = redis.call('ZCARD', KEYS[1])
local out = {''}
for i = 4, #ARGV do
  local c = ARGV[i]
  if redis.call('ZSCORE', KEYS[1], c) or used < limit then
    if not redis.call('ZSCORE', KEYS[1], c) then used = used + 1 end
    redis.call('ZADD', KEYS[1], now, c)
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if oldest[2] then out[1] = oldest[2] end
return out
"""

# GCRA reservation of n slots on two keys (the notification lane and the number's limiter
# shared with replies, same format as RESERVE). KEYS: lane key, shared key.
# ARGV: lane interval us, lane burst us, shared interval us, shared burst us, n.
# Returns the wait in microseconds before the first slot.
NOTIFY_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local n = tonumber(ARGV[5])
local wait = 0
for k = 1, 2 do
  local interval, burst = tonumber(ARGV[2 * k - 1]), tonumber(ARGV[2 * k])
  local tat = tonumber(redis.call('GET', KEYS[k]) or now)
  if tat < now then tat = now end
  local new_tat = tat + n * interval
  redis.call('SET', KEYS[k], string.format('%.0f', new_tat), 'PX',
             math.ceil((new_tat - now) / 1000) + 1000)
  local w = tat + interval - burst - now
  if w > wait then wait = w end
end
return wait
"""

# KEYS: lease. ARGV: owner, ttl ms. 1 when the owner holds the lease (taken or renewed).
NOTIFY_LEASE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""

# KEYS: notification document, idempotency key, number index zset, due zset.
# ARGV: id, document, created_at, due, idempotency ttl s ('' without a key).
# Returns {1} created, or {0, id} when the key names a notification already.
NOTIFY_CREATE = """
if ARGV[5] ~= '' then
  local held = redis.call('GET', KEYS[2])
  if held then return {0, held} end
  redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[5])
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
return {1}
"""

# KEYS: notification document, its claim, the number's due zset.
# ARGV: expected document, new document, id, due: '' keep / '-' remove / a score,
#       '1' to drop the claim. Returns 0 (nothing written) when the document changed.
NOTIFY_CAS = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
if ARGV[4] == '-' then
  redis.call('ZREM', KEYS[3], ARGV[3])
elseif ARGV[4] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
end
if ARGV[5] == '1' then redis.call('DEL', KEYS[2]) end
return 1
"""

# KEYS: failure counter. ARGV: window ms. The first failure starts the window.
COUNT_FAILURE = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

# KEYS: ticket hash, number set, status set. ARGV: id, expected version.
# Removes a ticket and its number's indexes if it was not saved meanwhile; 1 when removed.
TICKET_DELETE = """
local stored = redis.call('HGET', KEYS[1], 'v')
if not stored or tonumber(stored) ~= tonumber(ARGV[2]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""


# KEYS: the mark, rollup blocks hash, then the rollup keys of the plan. ARGV: mark ttl
# seconds, plan JSON. Applies the plan once per mark: 1 applied, 0 the mark was there.
ROLLUP_ONCE = (
    _ROLLUP_APPLY
    + """
if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return 0 end
if ARGV[2] ~= '' then apply_plan(KEYS[2], cjson.decode(ARGV[2])) end
return 1
"""
)
