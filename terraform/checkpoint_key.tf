# The key that signs audit checkpoints: asymmetric, ECC_NIST_P256, SIGN_VERIFY. Its private key
# never leaves KMS (KMS exports no asymmetric private key). The function may only call Sign with
# it, with ECDSA_SHA_256 (iam.tf): not GetPublicKey, not Verify, nothing else. Operators and
# auditors read the public key with `otpbot audit public-key` under their own credentials.

data "aws_iam_policy_document" "checkpoint_key" {
  #checkov:skip=CKV_AWS_109:This document is only the checkpoint key's policy: its "*" resource means this key alone, and kms:* goes to the account root, which delegates key administration to IAM (the AWS default key policy).
  #checkov:skip=CKV_AWS_111:This document is only the checkpoint key's policy: its "*" resource means this key alone; the function's only use of the key, kms:Sign, is granted in iam.tf on the key's ARN.
  #checkov:skip=CKV_AWS_356:This document is only the checkpoint key's policy, where Resource must be "*" (the key the policy is attached to); identity policies in iam.tf name the key ARN.

  statement {
    sid       = "AccountAdministersKey"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "checkpoint" {
  #checkov:skip=CKV_AWS_7:KMS rotates symmetric keys only; an asymmetric signing key is rotated by creating a new key, whose public key auditors then receive.
  description              = "${var.name}: signs audit checkpoints (ECDSA P-256)"
  key_usage                = "SIGN_VERIFY"
  customer_master_key_spec = "ECC_NIST_P256"
  deletion_window_in_days  = 30
  policy                   = data.aws_iam_policy_document.checkpoint_key.json
}

resource "aws_kms_alias" "checkpoint" {
  name          = "alias/${var.name}-checkpoint"
  target_key_id = aws_kms_key.checkpoint.key_id
}
