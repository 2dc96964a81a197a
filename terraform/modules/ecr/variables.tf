variable "name" {
  description = "Repository name."
  type        = string
}

variable "keep_images" {
  description = "Number of images the lifecycle policy keeps."
  type        = number
  default     = 10
}

variable "force_destroy" {
  description = "Allow destroying the repository with images in it."
  type        = bool
  default     = false
}
