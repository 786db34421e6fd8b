"""The bot's services, built once at start-up outside any front end and handed to every front
end and the CLI: one ledger, one Wiro client and socket, one catalog, one dispatcher (so one
global Wiro limit), one admission path and the servers' and chats' policies, shared by Discord
and Telegram."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from bot.core.catalog import Catalog
from bot.core.catalog.refresh import CatalogProvider
from bot.core.faces import FaceCipher, SavedFaces
from bot.core.faces.store import FOLDER_NAME as FACES_FOLDER
from bot.core.insight.alerts import OwnerAlerts
from bot.core.insight.audit import AuditLog
from bot.core.insight.health import WiroHealth
from bot.core.insight.stats import Insight
from bot.core.jobs import JobLimits
from bot.core.jobs.admission import Admission
from bot.core.jobs.claims import JobClaims
from bot.core.jobs.dispatcher import Dispatcher, DispatchRules
from bot.core.jobs.events import FrontEnd, FrontEnds
from bot.core.jobs.leases import Leases
from bot.core.jobs.ledger import JobLedger
from bot.core.jobs.limits import FairUse
from bot.core.jobs.sql_ledger import SqlLedger
from bot.core.metrics import Metrics
from bot.core.policy.service import Policies
from bot.core.policy.store import SqlPolicyStore
from bot.core.privacy import Forgetting, QuotaMarks
from bot.core.request.held import HeldRequests
from bot.core.request.selfie import SelfieLimits
from bot.core.request.selfie_store import SelfieStore
from bot.core.result.store import ResultStore
from bot.core.wiro import WiroClient, WiroSocket
from bot.settings import Settings, owner_caps


@dataclass
class Services:
    """What the front ends use; see the module docstring."""

    settings: Settings
    wiro: WiroClient
    ledger: JobLedger
    catalogs: CatalogProvider
    selfie_limits: SelfieLimits
    fair_use: FairUse
    rules: DispatchRules
    selfies: SelfieStore
    results: ResultStore
    frontends: FrontEnds
    dispatcher: Dispatcher
    admission: Admission
    policies: Policies
    faces: SavedFaces
    held: HeldRequests
    forgetting: Forgetting
    audit: AuditLog
    insight: Insight
    health: WiroHealth
    metrics: Metrics
    leases: Leases
    claims: JobClaims
    socket: WiroSocket | None = None

    @property
    def catalog(self) -> Catalog:
        """The current catalog (bundled, or Wiro's live one after a refresh)."""
        return self.catalogs.get()

    def add_frontend(self, frontend: FrontEnd) -> None:
        """Route the jobs of `frontend.platform` to it; before `dispatcher.start()`."""
        self.frontends.add(frontend)


def build_services(
    settings: Settings, wiro: WiroClient, ledger: SqlLedger, socket: WiroSocket | None = None
) -> Services:
    """Every service on one ledger: SQLite's or PostgreSQL's (`bot.core.jobs.database`)."""
    catalogs = CatalogProvider()
    selfies = SelfieStore(settings.data_dir / "selfies")
    results = ResultStore(settings.data_dir / "results")
    faces = SavedFaces(
        ledger,
        settings.data_dir / FACES_FOLDER,
        FaceCipher(settings.data_dir, settings.faces_key),
        per_member=settings.faces_per_member,
    )
    marks = QuotaMarks(settings.data_dir)
    caps = owner_caps(settings)
    fair_use = caps.fair_use
    policies = Policies(SqlPolicyStore(ledger), caps)
    rules = DispatchRules(
        max_running=settings.max_running_tasks,
        busy_retry=settings.busy_retry_seconds,
        delete_wiro_files=settings.delete_wiro_files,
        retention=timedelta(days=settings.retention_days),
        delivery_retry=timedelta(minutes=settings.delivery_retry_minutes),
        job_limits=JobLimits(timeout=settings.task_timeout, error_grace=settings.error_grace),
    )
    frontends = FrontEnds()
    dispatcher = Dispatcher(
        ledger,
        wiro,
        catalogs.get,
        frontends,
        rules,
        selfies=selfies,
        results=results,
        socket=socket,
        serves=frontends.serves,
        faces=faces,
    )
    admission = Admission(
        ledger,
        fair_use,
        selfies,
        selfie_keep=timedelta(hours=settings.selfie_keep_hours),
        wake=dispatcher.wake,
        fair_use_for=policies.fair_use,
        quota_mark=marks.key_for,
    )
    held = HeldRequests(ledger, selfies)
    forgetting = Forgetting(
        ledger, wiro, dispatcher, marks, faces=faces, selfies=selfies, results=results, held=held
    )
    dispatcher.add_housekeeping(forgetting.prune_marks)
    dispatcher.add_housekeeping(held.prune)
    audit, insight, health = _insight(settings, wiro, ledger, frontends, dispatcher, admission)
    policies.on_change = audit.change  # every policy change is kept, with who made it
    metrics = Metrics()
    leases = Leases(ledger)
    claims = JobClaims(ledger, leases, ttl=timedelta(seconds=settings.process_lease_seconds))
    dispatcher.claims = claims
    wiro.call_observer = metrics.wiro_call
    dispatcher.metrics = metrics
    return Services(
        settings=settings,
        wiro=wiro,
        ledger=ledger,
        catalogs=catalogs,
        selfie_limits=SelfieLimits(max_bytes=int(settings.selfie_max_mb * 1024 * 1024)),
        fair_use=fair_use,
        rules=rules,
        selfies=selfies,
        results=results,
        frontends=frontends,
        dispatcher=dispatcher,
        admission=admission,
        policies=policies,
        faces=faces,
        held=held,
        forgetting=forgetting,
        audit=audit,
        insight=insight,
        health=health,
        metrics=metrics,
        leases=leases,
        claims=claims,
        socket=socket,
    )


def _insight(
    settings: Settings,
    wiro: WiroClient,
    ledger: SqlLedger,
    frontends: FrontEnds,
    dispatcher: Dispatcher,
    admission: Admission,
) -> tuple[AuditLog, Insight, WiroHealth]:
    """The audit log (fed by admission, pruned with the jobs), the figures, and Wiro's
    health (fed by the queue, alerting the owner through the front ends)."""
    audit = AuditLog(ledger)  # it keeps its table in the ledger's database
    admission.audit = audit
    dispatcher.also_prune.append(audit.prune)
    health = WiroHealth(
        wiro,
        OwnerAlerts(ledger, frontends),
        every=timedelta(minutes=settings.wiro_health_minutes),
    )
    dispatcher.wiro_watch = health
    return audit, Insight(ledger), health
