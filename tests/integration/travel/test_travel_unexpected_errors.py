"""A travel reimbursement the transfer did not foresee ends its attempt with a reason, never `pending`."""

from __future__ import annotations

import pytest

from sandbox.severa.demo import demo_guid

pytestmark = pytest.mark.integration


async def test_a_reimbursement_without_a_date_fails_naming_the_date(travel) -> None:
    travel.severa_store.update("travelreimbursements", demo_guid("travelreimbursement", 1), {"date": None})
    request = await travel.request(1)
    result = await travel.transfer().handle(request)
    assert result.state == "failed_data"
    final = travel.outcomes(request["event_id"])[-1]
    assert final["state"] == "failed_data"
    error = final["error"]
    assert (error["code"], error["record"], error["field"]) == ("INVALID_FIELD", "travel reimbursement 1", "date")
    assert travel.travel_invoices(1) == []
