-- One row per delivered source and provider; `delivery_summaries` comes from the run's summaries.
-- A delivery count has no records behind it here, so its key is the keyed hash of what it counts.
SELECT month, source, provider,
       delivery_figure(rows_received, concat_ws('|', month, source, provider, 'received')) AS rows_received,
       delivery_figure(rows_quarantined, concat_ws('|', month, source, provider, 'quarantined')) AS rows_quarantined,
       delivery_figure(rows_out_of_scope + rows_out_of_area, concat_ws('|', month, source, provider, 'out_of_scope')) AS rows_out_of_scope,
       delivery_figure(rows_shared, concat_ws('|', month, source, provider, 'shared')) AS rows_shared,
       delivery_figure(rows_located, concat_ws('|', month, source, provider, 'located')) AS rows_located,
       delivery_figure(rows_unlocated, concat_ws('|', month, source, provider, 'unlocated')) AS rows_unlocated,
       delivery_figure(rows_private, concat_ws('|', month, source, provider, 'private')) AS rows_private,
       delivery_figure(rows_ambiguous, concat_ws('|', month, source, provider, 'ambiguous')) AS rows_ambiguous,
       'as delivered' AS release_status
FROM delivery_summaries
ORDER BY month, source, provider
