-- One row per delivered source and provider; `delivery_summaries` comes from the run's summaries.
SELECT month, source, provider, rows_received, rows_quarantined,
       rows_out_of_scope + rows_out_of_area AS rows_out_of_scope,
       rows_shared, rows_located, rows_unlocated, rows_private, rows_ambiguous
FROM delivery_summaries
ORDER BY month, source, provider
