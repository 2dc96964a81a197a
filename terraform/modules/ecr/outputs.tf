output "repository_url" {
  description = "Repository URL (push IMAGE to URL:TAG)."
  value       = aws_ecr_repository.this.repository_url
}

output "repository_name" {
  description = "Repository name."
  value       = aws_ecr_repository.this.name
}

output "tag_mutability" {
  description = "IMMUTABLE."
  value       = aws_ecr_repository.this.image_tag_mutability
}
