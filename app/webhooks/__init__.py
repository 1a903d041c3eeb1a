"""The pure core of webhook delivery (Standard Webhooks): no database, no routes.

signing     secrets, the three headers, a verifier for our own tools
rotation    sealed secrets at rest and their rotation window
event_data  the versioned `data` model of each event type
catalogue   the event types, the envelope, payload bytes, JSON Schemas
addresses   address classes (SSRF) and the numeric IPv4 forms parsers accept
urls        registration checks and the canonical URL to store
resolve     bounded DNS with every answer checked: a PinnedTarget
transport   an httpx client that connects only to pinned addresses
attempt     one attempt, never raising for the network: an AttemptResult
retry       schedule, jitter, Retry-After, give up, disable: pure decisions
"""
