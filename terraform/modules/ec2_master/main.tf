# The master: a small Debian 12 instance with no SSH key and no open port (Session Manager
# only), IMDSv2 required, encrypted root volume. At boot, user data runs
# scripts/startup_master.sh with this deployment's settings; it installs the Debian packages,
# the SSM agent, the aws CLI and pestrun, and writes /etc/pestrun.env.

data "aws_ami" "debian12" {
  count = var.ami == null ? 1 : 0

  most_recent = true
  owners      = ["136693071363"] # Debian

  filter {
    name   = "name"
    values = ["debian-12-amd64-*"]
  }

  filter {
    name   = "architecture"
    values = ["x86_64"]
  }
}

resource "aws_instance" "master" {
  ami                         = coalesce(var.ami, one(data.aws_ami.debian12[*].id))
  instance_type               = var.instance_type
  subnet_id                   = var.subnet_id
  vpc_security_group_ids      = var.security_group_ids
  iam_instance_profile        = var.instance_profile_name
  associate_public_ip_address = true
  monitoring                  = false

  user_data = templatefile("${path.module}/user_data.sh.tftpl", {
    settings       = var.settings
    startup_script = base64gzip(var.startup_script)
  })
  user_data_replace_on_change = true

  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "disabled"
  }

  root_block_device {
    volume_type           = "gp3"
    volume_size           = var.volume_gb
    encrypted             = true
    kms_key_id            = var.kms_key_arn
    delete_on_termination = true
  }

  tags = { Name = "${var.name}-master" }

  lifecycle {
    precondition {
      condition     = length(trimspace(var.startup_script)) > 0
      error_message = "The master's boot script is empty: scripts/startup_master.sh was not found (set master_startup_script)."
    }
  }
}
