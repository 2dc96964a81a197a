# Security properties of the whole deployment, asserted on a plan with a mocked AWS provider
# (offline, no credentials): terraform test (from terraform/, after terraform init).

mock_provider "aws" {
  mock_data "aws_caller_identity" {
    defaults = { account_id = "123456789012", arn = "arn:aws:iam::123456789012:root", user_id = "AIDTEST" }
  }
  mock_data "aws_region" {
    defaults = { name = "eu-west-1" }
  }
  mock_data "aws_partition" {
    defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
  }
  mock_data "aws_availability_zones" {
    defaults = { names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"] }
  }
  mock_resource "aws_sqs_queue" {
    override_during = plan
    defaults        = { url = "https://sqs.eu-west-1.amazonaws.com/123456789012/calib-tasks" }
  }
  mock_data "aws_ami" {
    defaults = { id = "ami-0123456789abcdef0" }
  }
}

variables {
  name                  = "calib"
  master_startup_script = "tests/startup_stub.sh"
}

run "bucket_private_encrypted_tls_only" {
  command = plan

  assert {
    condition     = output.security_summary.bucket_public_access_blocked
    error_message = "the bucket's public access block must have all four settings true"
  }
  assert {
    condition     = output.security_summary.bucket_sse_algorithm == "AES256"
    error_message = "the bucket must be encrypted (AES256 without a KMS key)"
  }
  assert {
    condition     = output.security_summary.bucket_tls_only
    error_message = "the bucket policy must deny aws:SecureTransport=false"
  }
  assert {
    condition     = output.bucket == "calib-123456789012-eu-west-1"
    error_message = "unexpected default bucket name ${output.bucket}"
  }
}

run "queues_encrypted_with_dead_letters" {
  command = plan

  assert {
    condition     = alltrue([for k, e in output.security_summary.queue_sse : e == "sqs-managed"])
    error_message = "every queue (task, result and both DLQs) must have SSE"
  }
  assert {
    condition     = length(output.security_summary.queue_sse) == 4
    error_message = "expected four queues"
  }
  assert {
    condition     = output.security_summary.queue_redrive.task == 3 && output.security_summary.queue_redrive.result == 3
    error_message = "both queues must redrive to a DLQ after 3 receives by default"
  }
}

run "no_open_ingress_and_least_privilege" {
  command = plan

  assert {
    condition     = output.security_summary.open_ingress_rules == 0
    error_message = "no security group may accept 0.0.0.0/0"
  }
  assert {
    condition     = output.security_summary.agent_policy_has_wildcard == false
    error_message = "the agent task role must not name a \"*\" resource"
  }
}

run "scale_to_zero_and_imdsv2" {
  command = plan

  assert {
    condition     = output.security_summary.ecs_desired_count == 0
    error_message = "the agent service must start at zero tasks"
  }
  assert {
    condition     = output.security_summary.autoscaling_min == 0
    error_message = "auto scaling must allow zero tasks"
  }
  assert {
    condition     = output.security_summary.master_imds_tokens == "required"
    error_message = "the master must require IMDSv2"
  }
  assert {
    condition     = strcontains(output.master_command, "--transport sqs") && strcontains(output.master_command, "--bucket calib-123456789012-eu-west-1 --prefix pestrun")
    error_message = "master command line: ${output.master_command}"
  }
}

run "kms_everywhere_when_given" {
  command = plan

  variables {
    kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  }

  assert {
    condition     = output.security_summary.bucket_sse_algorithm == "aws:kms"
    error_message = "with a KMS key the bucket must use aws:kms"
  }
  assert {
    condition     = strcontains(output.master_command, "--kms-key-id arn:aws:kms:")
    error_message = "the master command must pass the KMS key"
  }
}
