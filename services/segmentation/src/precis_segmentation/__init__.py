"""Segmentation (用户分群): a JSON rule language over the service's read model, compiled to SQL
and evaluated by the database."""
