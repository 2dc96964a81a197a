output "bucket_name" {
  description = "Bucket name."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "Bucket ARN."
  value       = local.bucket_arn
}

output "public_access_blocked" {
  description = "All four public access block settings are on."
  value = alltrue([
    aws_s3_bucket_public_access_block.this.block_public_acls,
    aws_s3_bucket_public_access_block.this.block_public_policy,
    aws_s3_bucket_public_access_block.this.ignore_public_acls,
    aws_s3_bucket_public_access_block.this.restrict_public_buckets,
  ])
}

output "sse_algorithm" {
  description = "Default encryption of the bucket."
  value       = one(one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default).sse_algorithm
}

output "tls_only" {
  description = "The bucket policy denies requests without TLS."
  value       = strcontains(aws_s3_bucket_policy.tls_only.policy, "aws:SecureTransport")
}
