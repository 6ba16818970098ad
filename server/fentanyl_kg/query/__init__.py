"""The one execution path for strangers' queries and page lookups: worker processes with time
and memory limits and admission lanes (executor, admission, jobs), and the query guard."""
