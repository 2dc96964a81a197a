# One public subnet for the master (internet through the internet gateway, for apt and the source)
# and private subnets for the agents, which reach S3 through a gateway endpoint and SQS, ECR and
# CloudWatch Logs through interface endpoints: no NAT gateway to pay for. No security group
# accepts traffic from 0.0.0.0/0; the endpoints accept HTTPS from inside the VPC only.

resource "aws_vpc" "this" {
  cidr_block           = var.cidr
  enable_dns_support   = true
  enable_dns_hostnames = true

  tags = { Name = var.name }
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = { Name = var.name }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.this.id
  cidr_block              = cidrsubnet(var.cidr, 8, 0)
  availability_zone       = var.availability_zones[0]
  map_public_ip_on_launch = false

  tags = { Name = "${var.name}-public" }
}

resource "aws_subnet" "private" {
  count = length(var.availability_zones)

  vpc_id            = aws_vpc.this.id
  cidr_block        = cidrsubnet(var.cidr, 4, count.index + 1)
  availability_zone = var.availability_zones[count.index]

  tags = { Name = "${var.name}-private-${var.availability_zones[count.index]}" }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }

  tags = { Name = "${var.name}-public" }
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

# Private subnets: local routes and the S3 gateway endpoint only.
resource "aws_route_table" "private" {
  vpc_id = aws_vpc.this.id
  route  = []
  tags   = { Name = "${var.name}-private" }
}

resource "aws_route_table_association" "private" {
  count = length(var.availability_zones)

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private.id
}

resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${var.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private.id, aws_route_table.public.id]

  tags = { Name = "${var.name}-s3" }
}

resource "aws_vpc_endpoint" "interface" {
  for_each = toset(var.interface_endpoints)

  vpc_id              = aws_vpc.this.id
  service_name        = "com.amazonaws.${var.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = slice(aws_subnet.private[*].id, 0, min(var.endpoint_subnet_count, length(aws_subnet.private)))
  security_group_ids  = [aws_security_group.endpoints.id]

  tags = { Name = "${var.name}-${each.value}" }
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name}-endpoints"
  description = "VPC interface endpoints: HTTPS from inside the VPC only"
  vpc_id      = aws_vpc.this.id

  ingress {
    description = "HTTPS from the VPC"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.cidr]
  }

  egress = []

  tags = { Name = "${var.name}-endpoints" }
}

resource "aws_security_group" "agents" {
  name        = "${var.name}-agents"
  description = "pestrun agents: no ingress; HTTPS to the VPC endpoints and S3 only"
  vpc_id      = aws_vpc.this.id

  ingress = []

  egress {
    description = "HTTPS to the interface endpoints"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.cidr]
  }

  egress {
    description     = "HTTPS to S3 through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [aws_vpc_endpoint.s3.prefix_list_id]
  }

  tags = { Name = "${var.name}-agents" }
}

resource "aws_security_group" "master" {
  name        = "${var.name}-master"
  description = "pestrun master: no ingress (Session Manager), egress only"
  vpc_id      = aws_vpc.this.id

  ingress = []

  egress {
    description = "HTTPS and HTTP out (AWS APIs, Debian mirrors, source download)"
    from_port   = 0
    to_port     = 0
    protocol    = "-1"
    cidr_blocks = ["0.0.0.0/0"]
  }

  tags = { Name = "${var.name}-master" }
}
