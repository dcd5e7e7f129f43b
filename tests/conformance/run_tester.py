"""Runs the scim2-tester compliance checks against one SCIM tenant.

Reads SCIM_URL (the tenant base URL) and SCIM_TOKEN from the environment, prints one line per
check and closes with "N passed, N failed". Exit code 1 when any check is not a pass.
Optional argument: comma-separated tags to include (e.g. "discovery,crud").
"""

import os
import sys

from httpx2 import Client
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

PASSING = (Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE, Status.SKIPPED)


def main() -> int:
    headers = {"Authorization": f"Bearer {os.environ['SCIM_TOKEN']}"}
    http = Client(base_url=os.environ["SCIM_URL"], headers=headers)
    tags = set(sys.argv[1].split(",")) if len(sys.argv) > 1 and sys.argv[1] else None

    results = check_server(SyncSCIMClient(http), include_tags=tags)

    failed = [result for result in results if result.status not in PASSING]
    for result in results:
        reason = (result.reason or "").splitlines()[0] if result.reason else ""
        if os.environ.get("SCIM_TESTER_VERBOSE") and result.status not in PASSING:
            reason = f"{result.reason} {getattr(result, 'data', '')}"
        print(result.status.name, result.title, result.resource_type or "", reason)
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
