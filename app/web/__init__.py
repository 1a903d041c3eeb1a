"""The HTTP edge shared by the API routers and the dashboard: typed app-state
slots, session dependencies, problem+json rendering and the ASGI middleware.
Services never import this package; it imports them."""
