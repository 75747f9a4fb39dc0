"""The OpenAPI document: request schemas, one example per event type, error responses."""

from __future__ import annotations

from touchpoint_common.events.payloads import EventType
from touchpoint_ingest.main import create_app
from touchpoint_ingest.settings import IngestSettings


def test_openapi_documents_every_event_type_with_an_example() -> None:
    """POST /v1/events shows the EventIn schema, an example per type and each error status."""
    schema = create_app(IngestSettings()).openapi()
    post = schema["paths"]["/v1/events"]["post"]
    body = post["requestBody"]["content"]["application/json"]
    assert body["schema"] == {"$ref": "#/components/schemas/EventIn"}
    assert set(body["examples"]) == {kind.value for kind in EventType}
    assert {"202", "400", "409", "413", "415", "422", "503"} <= set(post["responses"])
    components = schema["components"]["schemas"]
    assert {"EventIn", "BatchIn", "CustomerRef", "PurchasePayload", "IdentifyPayload"} <= set(
        components
    )
    batch = schema["paths"]["/v1/events/batch"]["post"]["requestBody"]["content"]
    assert batch["application/json"]["schema"] == {"$ref": "#/components/schemas/BatchIn"}
