"""The access policy without a server: keys, roles, granularity, token buckets, daily quotas and suspensions."""
from __future__ import annotations

import threading

import pytest

from lab_helpers.defences import DAY, ROLES, AccessPolicy, RateLimit, Role, SimulatedClock, TokenBucket
from lab_helpers.defences.access import hash_secret
from lab_helpers.defences import OutputPolicy
from lab_helpers.service import Dashboard, simulate_dashboard


@pytest.fixture
def clock():
    return SimulatedClock()


@pytest.fixture
def policy(clock):
    return AccessPolicy(clock=clock)


def keys(policy):
    return {role: policy.issue_key(f"{role}-1", role) for role in ("public", "analyst", "admin")}


def test_rate_limit_arithmetic():
    limit = RateLimit(burst=20, per_minute=20, per_day=1_000)
    assert limit.per_day_capacity() == 1_000
    assert limit.days_needed(40_000) == pytest.approx(40.0)
    slow = RateLimit(burst=10, per_minute=1, per_day=100_000)  # the sustained rate binds, not the quota
    assert slow.per_day_capacity() == 10 + 1440
    assert slow.days_needed(10 + 2880) == pytest.approx(2.0)
    assert "burst 20, 20 per minute, 1,000 per day" == limit.describe()


@pytest.mark.parametrize("kwargs, words", [(dict(burst=0), "burst"), (dict(burst=2.5), "burst"),
                                           (dict(per_minute=0), "per_minute"), (dict(per_minute=float("nan")), "per_minute"),
                                           (dict(burst=50, per_day=10), "at least the burst")])
def test_bad_rate_limits_say_what_is_wrong(kwargs, words):
    with pytest.raises(ValueError, match=words):
        RateLimit(**kwargs)


def test_token_bucket_takes_refills_and_says_how_long_to_wait():
    bucket = TokenBucket(capacity=10, rate=1.0, tokens=10, updated=0.0)
    assert bucket.wait(10, now=0.0) == 0
    assert bucket.wait(3, now=0.0) == pytest.approx(3.0)  # refused: nothing taken
    assert bucket.wait(3, now=3.0) == 0
    assert bucket.wait(1, now=1_000.0) == 0 and bucket.tokens == pytest.approx(9.0)  # capped at capacity


def test_keys_store_only_a_hash_and_ids_are_unique(policy):
    secret = policy.issue_key("alice", "analyst")
    assert secret.startswith("lab-") and len(secret) > 20
    assert policy.identify(secret).key_id == "alice" and policy.identify("wrong") is None and policy.identify(None) is None
    assert secret not in repr(policy.__dict__) and hash_secret(secret) in policy._keys
    with pytest.raises(ValueError, match="exists already"):
        policy.issue_key("alice", "public")
    with pytest.raises(ValueError, match="public, analyst, admin"):
        policy.issue_key("bob", "superuser")


def test_unknown_or_missing_key_is_401(policy):
    keys(policy)
    assert policy.decide(None, 1).status == 401
    assert policy.decide("lab-guess", 1).status == 401


def test_each_role_gets_its_own_default_granularity(policy):
    k = keys(policy)
    assert policy.decide(k["public"], 1).output == OutputPolicy("label")
    assert policy.decide(k["analyst"], 1).output == OutputPolicy("rounded", decimals=2)
    assert policy.decide(k["admin"], 1).output == OutputPolicy("probabilities")
    assert policy.decide(k["analyst"], 1, "top_k").output == OutputPolicy("top_k", k=3)


def test_asking_for_more_detail_than_the_role_allows_is_403(policy):
    k = keys(policy)
    refused = policy.decide(k["public"], 1, "probabilities")
    assert refused.status == 403 and "allowed: label" in refused.reason and refused.key_id == "public-1"
    assert policy.decide(k["analyst"], 1, "probabilities").status == 403
    assert policy.decide(k["admin"], 1, "probabilities").allowed
    assert policy.decide(k["admin"], 1, "confidences").status == 422


def test_granularity_off_gives_everyone_full_probabilities(clock):
    policy = AccessPolicy(granularity=False, clock=clock)
    k = keys(policy)
    assert policy.decide(k["public"], 1).output == OutputPolicy("probabilities")
    assert policy.decide(k["public"], 1, "rounded").output == OutputPolicy("rounded", decimals=2)


def test_batch_over_the_key_limit_is_413(policy):
    k = keys(policy)
    assert policy.batch_limit(policy.identify(k["public"])) == 20  # never more than the burst
    assert policy.decide(k["public"], 21).status == 413
    assert policy.decide(k["admin"], 101).status == 413 and "limit of 100" in policy.decide(k["admin"], 101).reason
    assert policy.decide(k["admin"], 100).allowed


def test_burst_then_429_with_retry_after_then_refill(policy, clock):
    k = keys(policy)["public"]  # burst 20, 20 per minute: one token every 3 s
    assert policy.decide(k, 20).allowed
    refused = policy.decide(k, 1)
    assert refused.status == 429 and refused.retry_after == 3 and "rate limit" in refused.reason
    clock.advance(3)
    assert policy.decide(k, 1).allowed
    clock.advance(60)
    assert policy.decide(k, 20).allowed


def test_daily_quota_refuses_until_midnight_utc(clock):
    tiny = Role("tiny", (OutputPolicy("label"),), RateLimit(burst=10, per_minute=600, per_day=25))
    policy = AccessPolicy(roles={"tiny": tiny}, clock=clock)
    k = policy.issue_key("t", "tiny")
    for _ in range(2):
        assert policy.decide(k, 10).allowed
        clock.advance(60)
    refused = policy.decide(k, 10)
    seconds_to_midnight = DAY - clock.now % DAY
    assert refused.status == 429 and "daily quota" in refused.reason
    assert abs(refused.retry_after - seconds_to_midnight) <= 1
    assert policy.decide(k, 5).allowed and policy.used_today("t") == 25
    clock.advance(seconds_to_midnight + 1)
    assert policy.decide(k, 10).allowed and policy.used_today("t") == 10


def test_rate_limits_off_never_429(clock):
    policy = AccessPolicy(rate_limits=False, clock=clock)
    k = keys(policy)["public"]
    assert all(policy.decide(k, 100).allowed for _ in range(50))


def test_restored_usage_keeps_the_quota_after_a_restart(clock):
    policy = AccessPolicy(clock=clock)
    k = keys(policy)["public"]
    policy.restore_usage({"public-1": 995})
    refused = policy.decide(k, 5)  # a restart refills nothing: the burst starts empty, 5 queries in 15 s
    assert refused.status == 429 and refused.retry_after == 15 and "rate limit" in refused.reason
    clock.advance(15)
    assert policy.decide(k, 5).allowed
    assert policy.decide(k, 1).status == 429 and "daily quota" in policy.decide(k, 1).reason


def test_suspended_key_is_403_until_lifted(policy):
    k = keys(policy)["analyst"]
    policy.suspend("analyst-1", "probing alert (near_duplicates)")
    refused = policy.decide(k, 1)
    assert refused.status == 403 and "suspended" in refused.reason
    policy.lift_suspension("analyst-1")
    assert policy.decide(k, 1).allowed


def test_concurrent_callers_share_one_bucket_exactly(clock):
    policy = AccessPolicy(clock=clock)  # frozen clock: no refill, so exactly the burst gets through
    k = keys(policy)["analyst"]  # burst 100
    allowed = []

    def caller():
        allowed.extend(policy.decide(k, 1).allowed for _ in range(10))

    threads = [threading.Thread(target=caller) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert sum(allowed) == 100 and len(allowed) == 240


def test_dashboard_simulation_under_the_lab_roles():
    dash = Dashboard(batch=25, every_minutes=5, hours=8)
    assert dash.queries_per_day == 96 * 25
    assert simulate_dashboard(ROLES["analyst"].limit, dash)["refused"] == 0
    public = simulate_dashboard(ROLES["public"].limit, dash)  # batch 25 > burst 20: every refresh refused
    assert public["refused"] == public["refreshes"] and public["statuses"] == {413: public["refreshes"]}
    tight = simulate_dashboard(RateLimit(burst=25, per_minute=5, per_day=2_000), dash)
    assert 0 < tight["refused"] < tight["refreshes"] and tight["statuses"].get(429)
