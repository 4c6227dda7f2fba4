"""Ray plumbing shared by the jobs that run on a Ray cluster (engine "ray", `featurelens.engine`).

- `cluster.connect(engine)`: join the cluster, or start a local Ray instance with this machine's cores;
- `model_transfer`: the driver's model reaches the workers by its spec or pickled, loaded once per worker;
- `ordered_tasks`: many calls of one function on the workers, a few at a time, results in call order,
  progress from every worker, retries when a worker dies, cancellation on Ctrl-C.

The techniques build on it in their own packages (`dataset_examples.on_ray`, `rendering.on_ray`),
which their plans import only when a job runs on Ray. Ray itself is imported inside the functions
that need it, so this package imports without Ray.
"""
