"""The check of one exchange against the public contract: each finding names the operation and the field."""

from __future__ import annotations

import json

from contract.check import Exchange, check_exchange
from contract.expected import KNOWN, Known, known_issue


def _json(value: object) -> bytes:
    return json.dumps(value).encode()


def _violations(exchange: Exchange) -> list[str]:
    outcome = check_exchange(exchange)
    assert outcome is not None and outcome.operation is not None
    return [str(v) for v in outcome.violations]


def test_an_answer_with_a_field_the_public_model_lacks_names_operation_and_field() -> None:
    # A person search answer with personNumber at the top level, where the public model has it under invoicingInfo.
    answer = {"results": [{"id": 7, "lastName": "Virta", "personNumber": "E-1"}],
              "meta": {"pageNumber": 0, "pageSize": 200, "resultCount": 1, "totalCount": 1}}
    found = _violations(Exchange("GET", "/api/persons", "personNumber=E-1", status=200, response_body=_json(answer)))
    assert found == [
        "procountor GET /persons answer: results[].personNumber: PersonBasicInfo has no field 'personNumber'"]


def test_the_public_shape_passes() -> None:
    answer = {"results": [{"id": 7, "lastName": "Virta", "invoicingInfo": {"personNumber": "E-1"}}], "meta": {}}
    assert _violations(Exchange("GET", "/latest/api/persons", "personNumber=E-1&size=200&page=0", status=200,
                                response_body=_json(answer))) == []


def test_a_parameter_the_operation_does_not_take_is_a_violation_when_the_sandbox_accepts_it() -> None:
    answer = _json({"results": [], "meta": {}})
    accepted = Exchange("GET", "/api/persons", "personNumber=E-1&previousId=9", status=200, response_body=answer)
    assert _violations(accepted) == [
        "procountor GET /persons request: query previousId: not a parameter of GET /persons"]
    # Refused: the test that sent it gets the error anyway (and negative tests send such requests on purpose).
    refused = Exchange("GET", "/api/persons", "previousId=9", status=400,
                       response_body=_json({"errors": [{"status": 400, "field": "previousId", "message": "X"}]}))
    assert _violations(refused) == []


def test_query_values_are_checked_against_types_and_enums() -> None:
    answer = _json({"results": [], "meta": {}})
    found = _violations(Exchange("GET", "/api/invoices", "types=SALES_INVOICE,TRAVEL_INVOICE&status=SENT&size=many",
                                 status=200, response_body=answer))
    assert found == ["procountor GET /invoices request: query size: expected integer, got 'many'"]
    found = _violations(Exchange("GET", "/api/products", "type=SALES,TRAVEL", status=200, response_body=answer))
    assert found == [
        "procountor GET /products request: query type: 'SALES,TRAVEL' is a list; type takes one products.type"]
    # Severa sends lists as repeated keys.
    found = _violations(Exchange("GET", "/rest-api/v1/invoices", "invoiceStatusGuids=a&invoiceStatusGuids=b&rowCount=x",
                                 status=200, response_body=b"[]"))
    assert found == ["severa GET /v1/invoices request: query rowCount: expected integer, got 'x'"]


def test_a_required_field_missing_from_a_multipart_meta_part_is_named() -> None:
    boundary = "b0undary"
    meta = {"name": "invoice.pdf", "referenceType": "INVOICE", "referenceId": 5}
    body = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n"
        f"{json.dumps(meta)}\r\n--{boundary}\r\n"
        f"Content-Disposition: form-data; name=\"file\"; filename=\"invoice.pdf\"\r\n"
        f"Content-Type: application/pdf\r\n\r\n%PDF-1.4\r\n--{boundary}--\r\n"
    ).encode()
    exchange = Exchange("POST", "/api/attachments", request_headers={
        "content-type": f"multipart/form-data; boundary={boundary}"}, request_body=body, status=200,
        response_body=_json({"id": 1, **meta, "sendWithInvoice": True}))
    assert _violations(exchange) == [
        "procountor POST /attachments request: meta.sendWithInvoice: Attachment requires 'sendWithInvoice'"]


def test_severa_patch_accepts_either_spelling_of_replace_and_nothing_else() -> None:
    def patch(op: str) -> list[str]:
        body = _json([{"op": op, "path": "/status/guid", "value": "g-1"}])
        return _violations(Exchange("PATCH", "/rest-api/v1/invoices/g-9", request_body=body,
                                    request_headers={"content-type": "application/json"}, status=200,
                                    response_body=b"[]"))
    assert patch("replace") == [] and patch("Replace") == []
    assert patch("frobnicate") == ["severa PATCH /v1/invoices/{guid} request: [].op: 'frobnicate' is not one of "
                                   "PatchOperationType ['Add', 'Copy', 'Move', 'Remove', 'Replace']"]


def test_answers_are_checked_for_status_batch_lists_and_error_bodies() -> None:
    invoice = {
        "id": 1, "type": "SALES_INVOICE", "date": "2026-11-30", "counterParty": {"counterPartyAddress": {"name": "Oy"}},
        "paymentInfo": {"paymentMethod": "BANK_TRANSFER", "currency": "EUR", "dueDate": "2026-12-14",
                        "currencyRate": 1},
        "extraInfo": {"accountingByRow": True, "unitPricesIncludeVat": False}, "discountPercent": 0,
        "invoiceRows": [], "invoiceChannel": "NO_SENDING", "created": "2026-11-30T10:00:00",
    }
    found = _violations(Exchange("GET", "/api/invoices/1,2", status=200, response_body=_json([invoice, invoice])))
    assert found == ["procountor GET /invoices/{ids} answer: [].created: Invoice has no field 'created'"]
    found = _violations(Exchange("POST", "/rest-api/v1/customers", request_body=_json({"name": "Oy"}), status=200,
                                 response_body=_json({"name": "Oy"})))
    assert found == ["severa POST /v1/customers answer: (status): answered 200; the description says 201"]
    found = _violations(Exchange("PUT", "/api/invoices/1/send", status=400, response_body=b"bad enum"))
    assert found == ["procountor PUT /invoices/{id}/send answer: (error body): a 400 answer that is not JSON; "
                     "the API answers ErrorMessages"]


def test_paths_outside_the_apis_are_not_checked_and_unknown_operations_are_told_apart() -> None:
    assert check_exchange(Exchange("GET", "/_sandbox/stats", status=200)) is None
    outcome = check_exchange(Exchange("GET", "/rest-api/v1/activities", status=200, response_body=b"[]"))
    assert outcome is not None and outcome.operation is None and outcome.violations == []


def test_a_known_violation_names_its_issue_item() -> None:
    from contract.check import Violation

    known = Known("procountor", "GET /persons", "answer", "results[].personNumber", "issue 12 item 1")
    violation = Violation("procountor", "GET /persons", "answer", "results[].personNumber", "no field")
    assert known.matches(violation)
    assert not known.matches(Violation("procountor", "GET /persons", "request", "query previousId", "x"))
    assert all(k.issue.startswith("issue ") for k in KNOWN)
    assert known_issue(Violation("severa", "GET /v1/users", "answer", "zzz", "x")) is None
