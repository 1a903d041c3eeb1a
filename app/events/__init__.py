"""Events and their delivery: the transactional outbox, webhook endpoints, the worker.

outbox      `emit`: the event and one delivery per subscribed endpoint, in the
            caller's transaction
repository  every query on `webhooks` and `webhook_deliveries` (the worker's
            platform-wide claim included)
service     the endpoint and delivery-log use cases behind the routes
worker      claims due deliveries, sends them with the pure core, records them
"""
