from django.urls import re_path

from .views import endpoint

app_name = "codedeploy"

# Below /codedeploy/: AWS JSON 1.1 posts to the root, Smithy RPC v2 CBOR to
# service/CodeDeploy_20141006/operation/<Operation>; every other path gets an AWS-shaped answer too,
# never Django's 404 page. config/urls.py routes "/codedeploy" itself to the same view.
urlpatterns = [
    re_path(r"^$", endpoint, name="endpoint"),
    re_path(r"^(?P<path>.+)$", endpoint, name="operation"),
]
