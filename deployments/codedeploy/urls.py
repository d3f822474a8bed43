from django.urls import re_path

from .views import endpoint

app_name = "codedeploy"

# AWS JSON 1.1 posts to the endpoint itself ("/codedeploy/"); Smithy RPC v2 CBOR to
# /codedeploy/service/CodeDeploy_20141006/operation/<Operation>.
urlpatterns = [
    re_path(r"^/?$", endpoint, name="endpoint"),
    # Every other path below /codedeploy/ gets an AWS-shaped answer too, never Django's 404 page.
    re_path(r"^/(?P<path>.*)$", endpoint, name="operation"),
]
