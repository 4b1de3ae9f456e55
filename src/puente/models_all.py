"""Imports every feature's tables so that ``Base.metadata`` is complete
(for migrations and the drift test)."""

from puente.access import models as access_models
from puente.catalog import models as catalog_models
from puente.consults import conference_models, education_models
from puente.consults import models as consults_models
from puente.db import Base
from puente.ledger import models as ledger_models
from puente.network import models as network_models
from puente.notify import models as notify_models
from puente.people import models as people_models
from puente.recovery import models as recovery_models
from puente.scheduling import models as scheduling_models
from puente.visits import models as visits_models

__all__ = [
    "Base",
    "access_models",
    "catalog_models",
    "conference_models",
    "consults_models",
    "education_models",
    "ledger_models",
    "network_models",
    "notify_models",
    "people_models",
    "recovery_models",
    "scheduling_models",
    "visits_models",
]
