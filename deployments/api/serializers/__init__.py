"""API serializers, one module per resource. They never query the database to render a row:
views prefetch what they need and pass anything computed per page through the context."""
