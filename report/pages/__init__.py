"""Every page of the site, one publisher per module. The site is built in `order` and the
navigation bar lists, in the same order, the publishers with a `nav_label` and content.

To add a page: write a module here with a `Publisher` subclass and add it to PUBLISHERS."""

from tpulens.report.pages.compare import Compare
from tpulens.report.pages.environment import Environment
from tpulens.report.pages.experiment import Experiments
from tpulens.report.pages.feed import Feed
from tpulens.report.pages.models import Models
from tpulens.report.pages.overview import Overview
from tpulens.report.pages.regressions import Regressions
from tpulens.report.pages.supported_ops import SupportedOps
from tpulens.report.pages.trends import History

PUBLISHERS = (
    Overview,
    Experiments,
    Regressions,
    Feed,
    Compare,
    History,
    Models,
    SupportedOps,
    Environment,
)
