"""Rate limits: requests/min, tokens/min and concurrency per key, app, team, tenant and
deployment, over one atomic `CounterStore` (in-process now; Redis for several replicas)."""
