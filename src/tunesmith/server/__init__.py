"""``tunesmith serve``: the SageMaker tuning API over HTTP, as boto3 and the AWS CLI speak it."""

from tunesmith.server.app import create_app, serve
from tunesmith.server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app", "serve"]
