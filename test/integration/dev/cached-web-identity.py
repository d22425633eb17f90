"""GetCallerIdentity through the web-identity provider with the AWS CLI's credential cache (~/.aws/cli/cache),
keyed as botocore keys it: by role ARN and session name only. AWS CLI releases before the token joined the key
(and any tool caching this way) behave like this; the pinned CLI keys by the token too."""
import os

import botocore.session
from botocore.utils import JSONFileCache

session = botocore.session.Session()
provider = session.get_component('credential_provider').get_provider('assume-role-with-web-identity')
provider.cache = JSONFileCache(os.path.expanduser(os.path.join('~', '.aws', 'cli', 'cache')))
print(session.create_client('sts').get_caller_identity()['Arn'])
