from __future__ import annotations

from publishing.emulator.core import EmulatorState, Fault


def test_the_emulator_state_survives_a_restart():
    before = EmulatorState()
    access, refresh = before.issue_tokens("x", account_id="42", username="ann", scopes=("tweet.read",), ttl=None)
    before.store("x")["posts"] = {"1": {"text": "hello"}}
    before.add_fault(Fault(platform="x", kind="rate_limit"))
    used = before.next_id()

    after = EmulatorState()
    after.restore(before.snapshot())

    assert after.token("x", access) is not None
    assert after.token("x", refresh, kind="refresh") is not None
    assert after.store("x")["posts"] == {"1": {"text": "hello"}}
    assert [f.kind for f in after.faults] == ["rate_limit"]
    assert after.next_id() > used
