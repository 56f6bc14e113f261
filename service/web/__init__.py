"""The HTTP layer: the app's one request pipeline, bodies admitted, routes, error answers."""
