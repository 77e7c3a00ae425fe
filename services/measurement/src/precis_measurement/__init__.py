"""Campaign measurement (issue 7): statistics, uplift and attribution."""
