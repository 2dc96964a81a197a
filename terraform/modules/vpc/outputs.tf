output "vpc_id" {
  description = "VPC id."
  value       = aws_vpc.this.id
}

output "public_subnet_id" {
  description = "Subnet of the master."
  value       = aws_subnet.public.id
}

output "private_subnet_ids" {
  description = "Subnets of the agents."
  value       = aws_subnet.private[*].id
}

output "agent_security_group_id" {
  description = "Security group of the agent tasks."
  value       = aws_security_group.agents.id
}

output "master_security_group_id" {
  description = "Security group of the master."
  value       = aws_security_group.master.id
}

output "endpoint_ids" {
  description = "Ids of the VPC endpoints."
  value       = concat([aws_vpc_endpoint.s3.id], [for e in aws_vpc_endpoint.interface : e.id])
}

output "open_ingress_rule_count" {
  description = "Ingress rules open to 0.0.0.0/0 or ::/0 on this module's security groups (0)."
  value = length([
    for r in concat(tolist(aws_security_group.endpoints.ingress), tolist(aws_security_group.agents.ingress), tolist(aws_security_group.master.ingress)) :
    r if contains(coalesce(r.cidr_blocks, []), "0.0.0.0/0") || contains(coalesce(r.ipv6_cidr_blocks, []), "::/0")
  ])
}
