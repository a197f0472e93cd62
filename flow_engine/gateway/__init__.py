"""Outbound I/O to WhatsApp: the Gateway interface and its implementations."""
