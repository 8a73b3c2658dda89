#!/usr/bin/env python3
"""Plays MXNet CD's artifact repository tool in the tests.

MXNet's CD pipelines pushed and pulled their builds with
cd/utils/artifact_repository.py (apache/mxnet). This client reproduces what
that tool does against S3, so hostbuild's `mxnet-cd` layout can be tested
against it in both directions:

- a set lives under the prefix `<git-sha>/<libtype>/<os>/<variant>/`;
- push uploads the library to `<prefix>/<name>`, every license to
  `<prefix>licenses//<name>` and every dependency to
  `<prefix>dependencies//<name>` (the tool joins a prefix that already ends
  in `/` with one more `/`), with boto3's upload_fileobj, and refuses to push
  without licenses;
- pull calls list_objects_v2 once with that prefix, fails when it finds no
  key, downloads every listed key with download_fileobj to
  `<destination>/<key after the prefix, leading '/' stripped>`, then writes
  `libmxnet.meta`, the yaml.dump of variant, os, commit_id and
  dependency_linking.

Usage mirrors the tool's flags: --push/--pull, --libmxnet, --licenses,
--dependencies, --os, --git-sha, --variant, --libtype, --bucket (or
ARTIFACT_REPOSITORY_BUCKET), --destination. The S3 endpoint and credentials
come from the standard AWS environment (AWS_ENDPOINT_URL, ...).
"""

import argparse
import os
import sys

import boto3
import yaml


def key_prefix(args, subdir=""):
    prefix = "{}/{}/{}/{}/".format(args.git_sha, args.libtype, args.os, args.variant)
    return "{}{}/".format(prefix, subdir) if subdir else prefix


def upload(s3, bucket, prefix, paths):
    for path in paths:
        key = "{}/{}".format(prefix, os.path.basename(path))
        with open(path, "rb") as data:
            s3.upload_fileobj(Fileobj=data, Key=key, Bucket=bucket)


def push(s3, args):
    if not args.licenses:
        raise RuntimeError("No licenses defined. Please submit the licenses to be shipped with the binary.")
    upload(s3, args.bucket, key_prefix(args), [args.libmxnet])
    upload(s3, args.bucket, key_prefix(args, "licenses"), args.licenses)
    if args.dependencies:
        upload(s3, args.bucket, key_prefix(args, "dependencies"), args.dependencies)


def pull(s3, args):
    prefix = key_prefix(args)
    response = s3.list_objects_v2(Bucket=args.bucket, Prefix=prefix)
    if response.get("KeyCount") is None:
        raise RuntimeError("Invalid response format.")
    if response["KeyCount"] == 0:
        raise RuntimeError("No artifacts found for this configuration.")
    for obj in response["Contents"]:
        key = obj["Key"]
        output_path = os.path.join(args.destination, key[len(prefix):].lstrip(os.sep))
        os.makedirs(os.path.dirname(output_path), exist_ok=True)
        with open(output_path, "wb") as fp:
            s3.download_fileobj(Fileobj=fp, Key=key, Bucket=args.bucket)
    with open(os.path.join(args.destination, "libmxnet.meta"), "w") as fp:
        fp.write(yaml.dump({
            "variant": args.variant,
            "os": args.os,
            "commit_id": args.git_sha,
            "dependency_linking": args.libtype,
        }))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--push", action="store_true")
    parser.add_argument("--pull", action="store_true")
    parser.add_argument("--libmxnet")
    parser.add_argument("--licenses", nargs="*", default=[])
    parser.add_argument("--dependencies", nargs="*", default=[])
    parser.add_argument("--os", required=True)
    parser.add_argument("--git-sha", required=True)
    parser.add_argument("--variant", default="cpu")
    parser.add_argument("--libtype", choices=["static", "dynamic"], default="dynamic")
    parser.add_argument("--bucket", default=os.environ.get("ARTIFACT_REPOSITORY_BUCKET"))
    parser.add_argument("--destination", default=os.getcwd())
    args = parser.parse_args()
    args.destination = os.path.abspath(args.destination)
    s3 = boto3.client("s3")
    try:
        if args.pull:
            pull(s3, args)
        else:
            push(s3, args)
    except RuntimeError as err:
        print("ERROR: {}".format(err), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
