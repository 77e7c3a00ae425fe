"""The built-in audience families over the read model: RFM cells, behaviour clusters,
predictive audiences (propensity, churn) and lookalikes.

Each module is a library the gRPC service calls with a SQLAlchemy Session and a workspace id;
long jobs take a ``progress`` callback (0..1). :mod:`.features` is the point-in-time feature
extraction they all share (facts strictly before a cutoff only).

    features.behaviour_features(session, ws, cutoff=..., features=None) -> FeatureMatrix
    features.event_labels(session, ws, profile_ids, cutoff=..., horizon=..., event=...)
    rfm.cells(session, ws) -> list[RfmCellSize]
    clustering.cluster_profiles(session, ws, as_of=..., k_min=2, k_max=8, seed=0)
    predictive.train_predictive(session, ws, kind=..., cutoff=..., horizon=...) -> TrainedModel
    predictive.score(session, ws, model, as_of=...) -> Scores
    lookalike.expand_lookalike(session, ws, seed_profile_ids, size=..., as_of=...) -> Lookalike

Errors are precis_common's: InvalidArgument on the offending request field (``features[1]``,
``k_max``, ``horizon_days``, ``seed_segment_id``, ``size``), FailedPrecondition when the data
cannot support the request (an outcome window with outcomes of one kind only, fewer profiles
than clusters).
"""
