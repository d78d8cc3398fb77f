"""``BillhookClient``'s endpoints: the URLs events are delivered to, their secrets, recovery.

Endpoints are store records; a recovery runs ``ManualDeliveryWorkflow`` (``recover-<endpoint>``)
and answers from its result. A URL is refused up front when production forbids its credentials
or its host is an address delivery would block.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from client.core import Group, M, on_store, operation
from client.ids import recover_workflow_id
from client.inputs import EndpointInput, EndpointUpdate
from client.results import EndpointCreated, RecoverResult, SecretRotated
from config import Settings
from errors import InvalidUrl
from models.delivery import DisabledReason, ManualDeliveryInput, ManualDeliveryProgress
from models.urls import has_credentials
from store import Store
from store.tables import Endpoint

if TYPE_CHECKING:
    from client.temporal import OnProgress


def refuse_credentials(url: str, settings: Settings) -> None:
    """Refuse ``user:password@`` in an endpoint URL in production, without quoting either.

    Raises:
        InvalidUrl: the URL carries credentials and ``settings.environment`` is production.
    """
    if settings.environment != "production" or not has_credentials(url):
        return
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # unparsable: the store refuses it with its own message
    raise InvalidUrl(
        f"endpoint URL for host {host!r} contains credentials (user:password@), "
        "which production refuses; receivers authenticate requests by their signature"
    )


def refuse_destination(url: str, settings: Settings) -> None:
    """Refuse a URL whose host is, without any lookup, an address delivery would block.

    Delivery resolves and checks every attempt's host again (a name's addresses can change
    after the endpoint is created); this refuses up front what can never be delivered.

    Raises:
        InvalidUrl: the host is a non-global IP literal outside ``BILLHOOK_ALLOWED_NETWORKS``,
            ``localhost``, or IPv4 written in a non-dotted-decimal form.
    """
    from activities.transport import literal_refusal  # httpx: only when an URL is given

    try:
        host = urlsplit(url).hostname
    except ValueError:
        return  # unparsable: the store refuses it with its own message
    if host and (why := literal_refusal(host, settings.allowed_networks)) is not None:
        raise InvalidUrl(f"endpoint URL refused: {why}")


class Endpoints(Group[M]):
    """The endpoints events are delivered to, their secrets, and recovering a failing one."""

    @operation
    async def create(self, endpoint: EndpointInput) -> EndpointCreated:
        """Create an enabled endpoint; its whole secret is in the answer, this once.

        Raises:
            InvalidInput: a bad URL (``InvalidUrl``), event type, name or secret.
        """
        refuse_credentials(endpoint.url, self._core.settings)
        refuse_destination(endpoint.url, self._core.settings)
        created, secret = await self._in_store(
            Store.create_endpoint,
            endpoint.url,
            endpoint.event_types,
            self._core.now(),
            name=endpoint.name,
            secret=endpoint.secret,
        )
        return EndpointCreated(endpoint=created, secret=secret)

    get = on_store(Store.get_endpoint)

    @operation
    async def update(self, endpoint_id: str, update: EndpointUpdate) -> Endpoint:
        """Change an endpoint's URL, event types or name; events emitted later follow it.

        Raises:
            InvalidInput: a bad URL, event type or name; nothing was written.
            NotFound: no such endpoint.
        """
        if update.url is not None:
            refuse_credentials(update.url, self._core.settings)
            refuse_destination(update.url, self._core.settings)
        return await self._in_store(
            Store.update_endpoint,
            endpoint_id,
            self._core.now(),
            url=update.url,
            event_types=update.event_types,
            name=update.name,
        )

    @operation
    async def disable(self, endpoint_id: str) -> Endpoint:
        """Disable an endpoint by hand: its events are recorded as skipped.

        Raises:
            NotFound: no such endpoint.
        """
        return await self._in_store(
            Store.disable_endpoint, endpoint_id, DisabledReason.MANUAL, self._core.now()
        )

    @operation
    async def enable(self, endpoint_id: str) -> Endpoint:
        """Enable an endpoint again; what it missed is resent only by ``recover``.

        Raises:
            NotFound: no such endpoint.
        """
        return await self._in_store(Store.enable_endpoint, endpoint_id, self._core.now())

    delete = on_store(Store.delete_endpoint)

    @operation
    async def rotate_secret(self, endpoint_id: str, secret: str | None = None) -> SecretRotated:
        """Make a new secret current (``secret``, or a generated one); the previous one stays
        valid for ``BILLHOOK_SECRET_GRACE``, and requests carry both signatures until then.

        Raises:
            InvalidSecret: ``secret`` is not ``whsec_`` + base64.
            NotFound: no such endpoint.
        """
        now, grace = self._core.now(), self._core.settings.secret_grace
        new = await self._in_store(Store.rotate_secret, endpoint_id, now, grace, secret=secret)
        return SecretRotated(
            endpoint_id=endpoint_id, secret=new, grace=grace, previous_valid_until=now + grace
        )

    reveal_secret = on_store(Store.reveal_secret)

    @operation
    async def recover(
        self, endpoint_id: str, since: datetime, on_progress: OnProgress | None = None
    ) -> RecoverResult:
        """Enable the endpoint, then resend every failed or skipped message since ``since``.

        One manual attempt per message, in order, in the workflow ``recover-<endpoint>``.

        Raises:
            NotFound: no such endpoint.
            TemporalError: Temporal is unreachable (the endpoint is left as it was).
        """
        await self._in_store(Store.get_endpoint, endpoint_id)
        # Connected first: when Temporal is down, the endpoint is left as it was.
        temporal = await self._core.temporal()
        endpoint = await self._in_store(Store.enable_endpoint, endpoint_id, self._core.now())
        message_ids = await self._in_store(Store.recoverable_messages, endpoint_id, since)
        if not message_ids:
            return RecoverResult(endpoint=endpoint, since=since, resent=None)
        if on_progress is not None:
            on_progress(ManualDeliveryProgress(total=len(message_ids)))
        resent = await temporal.manual(
            recover_workflow_id(endpoint_id),
            ManualDeliveryInput(endpoint_id=endpoint_id, message_ids=message_ids),
            on_progress,
        )
        return RecoverResult(endpoint=endpoint, since=since, resent=resent)

    list = on_store(Store.list_endpoints)
