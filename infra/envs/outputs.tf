# Root outputs of every environment (symlinked into each as outputs.tf): the
# names the harness reads with `terraform output -json`. Their values and
# descriptions are in modules/pipeline/outputs.tf; a root must still declare each
# output to expose it.

output "region" { value = module.pipeline.region }
output "account_id" { value = module.pipeline.account_id }
output "bucket" { value = module.pipeline.bucket }
output "ingest_prefix" { value = module.pipeline.ingest_prefix }
output "results_prefix" { value = module.pipeline.results_prefix }
output "failures_prefix" { value = module.pipeline.failures_prefix }
output "topic_arn" { value = module.pipeline.topic_arn }
output "queue_url" { value = module.pipeline.queue_url }
output "queue_name" { value = module.pipeline.queue_name }
output "dlq_url" { value = module.pipeline.dlq_url }
output "dlq_name" { value = module.pipeline.dlq_name }
output "max_receive_count" { value = module.pipeline.max_receive_count }
output "alarm_name" { value = module.pipeline.alarm_name }
output "alarm_arn" { value = module.pipeline.alarm_arn }
output "labeler_function" { value = module.pipeline.labeler_function }
output "labeler_log_group" { value = module.pipeline.labeler_log_group }
output "notifier_function" { value = module.pipeline.notifier_function }
output "notifier_log_group" { value = module.pipeline.notifier_log_group }
output "webhook_parameter_name" { value = module.pipeline.webhook_parameter_name }
output "notifier_failures_queue_url" { value = module.pipeline.notifier_failures_queue_url }
output "notifier_failures_queue_name" { value = module.pipeline.notifier_failures_queue_name }
output "notifier_failures_alarm_name" { value = module.pipeline.notifier_failures_alarm_name }
output "alerts_fallback_topic_arn" { value = module.pipeline.alerts_fallback_topic_arn }
output "resize_function" { value = module.pipeline.resize_function }
output "catalog_loader_function" { value = module.pipeline.catalog_loader_function }
output "catalog" { value = module.pipeline.catalog }
