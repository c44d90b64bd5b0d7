"""The admin module Django's autodiscovery imports: each feature registers its own admins.

Kept apart by feature so each file reads in one sitting; importing them here is what
registers them with the site.
"""

from assessments.authoring import admin as authoring_admin  # noqa: F401
from assessments.authoring import (
    admin_challenges,  # noqa: F401
    admin_variants,  # noqa: F401
)
from assessments.badges import admin as badges_admin  # noqa: F401
from assessments.hr.webhooks import admin as webhooks_admin  # noqa: F401
from assessments.invitations import admin as invitations_admin  # noqa: F401
from assessments.reports import admin as reports_admin  # noqa: F401
from assessments.reports import admin_invitations  # noqa: F401
