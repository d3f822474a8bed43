from rest_framework.exceptions import APIException


class Conflict(APIException):
    """409: the request is fine but the current state refuses it (something still running, a name taken)."""

    status_code = 409
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"
