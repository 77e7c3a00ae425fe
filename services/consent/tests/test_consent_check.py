"""The cached consent check (precis_common.consent_check) against the real consent service: the
cache answers repeated checks and the consent_changes feed invalidates exactly what changed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from consent_support import WS, Consent, record, subject

from precis.consent.v1 import consent_pb2 as pb
from precis_common.consent_check import ConsentChecker
from precis_common.identifiers import PiiHasher
from precis_common.settings import CommonSettings

EMAIL, ANALYTICS = pb.PURPOSE_MARKETING_EMAIL, pb.PURPOSE_ANALYTICS
GRANTED = pb.CONSENT_STATUS_GRANTED


@pytest.fixture
def checker(consent: Consent) -> Iterator[ConsentChecker]:
    channel = grpc.insecure_channel(f"127.0.0.1:{consent.app.port}")
    hasher = PiiHasher(CommonSettings().pii_secret.get_secret_value())
    made = ConsentChecker(channel, hasher)
    yield made
    made.stop()
    channel.close()


def allowed(checker: ConsentChecker, who: Any, purpose: int = EMAIL) -> tuple[bool, bool]:
    result = checker.check("brand-a", who, [purpose])
    return result.decisions[0].allowed, result.cached


def test_answers_are_cached_and_invalidated_by_the_feed(
    consent: Consent, checker: ConsentChecker
) -> None:
    ann, bob = subject(email="ann@example.com"), subject(user_id="bob")
    checker.poll()
    assert allowed(checker, ann) == (False, False)
    assert allowed(checker, ann) == (False, True)
    assert allowed(checker, bob) == (False, False)

    # Ann grants (recorded under her email and user id); the feed drops her answers only.
    consent.stub.RecordConsent(
        record(subject(user_id="ann-1", email="ANN@example.com"), (EMAIL, GRANTED)), metadata=WS
    )
    assert allowed(checker, ann) == (False, True)  # not yet read from the feed
    assert checker.poll() == 1
    assert allowed(checker, ann) == (True, False)
    assert allowed(checker, bob) == (False, True)

    # New defaults reach every cached answer of the workspace.
    consent.stub.SetConsentDefaults(
        pb.SetConsentDefaultsRequest(
            defaults=pb.JurisdictionDefaults(
                jurisdiction="*",
                defaults=[pb.PurposeDefault(purpose=ANALYTICS, status=pb.CONSENT_STATUS_DENIED)],
            )
        ),
        metadata=WS,
    )
    checker.poll()
    assert allowed(checker, bob) == (False, False)


def test_no_cache_while_the_feed_is_not_followed(consent: Consent, checker: ConsentChecker) -> None:
    who = subject(user_id="carol")
    # Never polled: every check goes to the service.
    assert allowed(checker, who) == (False, False)
    assert allowed(checker, who) == (False, False)
    checker.poll()
    allowed(checker, who)
    assert allowed(checker, who) == (False, True)
    checker._last_read -= 3600  # the follower fell behind: the cache is not trusted
    assert allowed(checker, who) == (False, False)


def test_a_change_landing_during_a_check_is_never_overwritten(
    consent: Consent, checker: ConsentChecker
) -> None:
    who = subject(user_id="dave")
    checker.poll()
    real = checker._stub.CheckConsent

    def racing(request: Any, **kwargs: Any) -> Any:
        answer = real(request, **kwargs)  # computed before the grant...
        consent.stub.RecordConsent(record(who, (EMAIL, GRANTED)), metadata=WS)
        checker.poll()  # ...whose invalidation arrives before the answer is cached
        return answer

    checker._stub.CheckConsent = racing  # type: ignore[method-assign]
    assert allowed(checker, who) == (False, False)
    checker._stub.CheckConsent = real  # type: ignore[method-assign]
    assert allowed(checker, who) == (True, False)  # the old answer was not cached


def test_the_follower_thread_keeps_the_cache_current(
    consent: Consent, checker: ConsentChecker
) -> None:
    who = subject(user_id="erin")
    checker.start()
    deadline = time.monotonic() + 10
    while not checker.healthy and time.monotonic() < deadline:
        time.sleep(0.01)
    assert allowed(checker, who)[0] is False
    consent.stub.RecordConsent(record(who, (EMAIL, GRANTED)), metadata=WS)
    while allowed(checker, who)[0] is False and time.monotonic() < deadline:
        time.sleep(0.01)
    assert allowed(checker, who)[0] is True


def test_an_erasure_notice_clears_the_workspace_and_the_follower_survives_it(
    consent: Consent, checker: ConsentChecker
) -> None:
    """SUBJECT_SUPPRESSED carries suppression tokens, not identifiers: the follower cannot
    map them to cached answers, so it drops the workspace's answers (and must not fail on
    them, which would stop it and silently disable the cache)."""
    who = subject(user_id="frank")
    checker.poll()
    allowed(checker, who)
    assert allowed(checker, who) == (False, True)
    consent.stub.CreateErasureRequest(
        pb.CreateErasureRequestRequest(subject=subject(user_id="someone"), request_id="e-1"),
        metadata=WS,
    )
    assert checker.poll() == 1
    assert checker.healthy
    assert allowed(checker, who) == (False, False)
