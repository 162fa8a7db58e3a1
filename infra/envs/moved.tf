# Moved blocks of every environment (symlinked into each as moved.tf): the
# modules that roots called directly until the pipeline module composed them.
# The moves inside each module are in its own moved.tf, relative to it, and
# Terraform chains both (tests/infra/test_moved_blocks.py checks every old
# address); a deployment made before keeps its resources.

moved {
  from = module.labeling
  to   = module.pipeline.module.labeling
}

moved {
  from = module.alerting
  to   = module.pipeline.module.alerting
}

moved {
  from = module.catalog
  to   = module.pipeline.module.catalog
}
