#!/usr/bin/python3
"""An example Python client of the context-compression service (ccs.v1).

It compresses a file into a server-side session, asks a question about it
(the answer prints as it streams), reconstructs the text from the compressed
memory, and deletes the session.

Runs on Debian's Python (/usr/bin/python3) with its packages python3-grpcio
and python3-protobuf; the gRPC stubs are generated at build time from
proto/ccs/v1/context_compression.proto and are not in the repository:

    bazel build //client/python:stubs
    client/python/ccs_example.py --server=localhost:50051 notes.txt \\
        --question="Who wrote it?"

or, through Bazel: bazel run //client/python:ccs_example -- --server=... FILE

Exit codes follow the ccs CLI: 0 ok, 1 file unreadable, 2 usage, 3 request
rejected, 4 try again later, 5 server error, 6 not found, 7 not allowed.
"""

import argparse
import os
import sys

try:
    from ccs.v1 import context_compression_pb2 as pb
    from ccs.v1 import context_compression_pb2_grpc as pb_grpc
except ImportError:
    # Run from a checkout: the stubs Bazel generated into bazel-bin.
    _STUBS = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                          "..", "..", "bazel-bin", "client", "python")
    sys.path.insert(0, _STUBS)
    try:
        from ccs.v1 import context_compression_pb2 as pb
        from ccs.v1 import context_compression_pb2_grpc as pb_grpc
    except ImportError:
        sys.exit("error: the gRPC stubs are missing; run "
                 "`bazel build //client/python:stubs` first")

import grpc

METHODS = {
    "auto": pb.METHOD_AUTO,
    "rcc": pb.METHOD_RCC,
    "ic_former": pb.METHOD_IC_FORMER,
    "none": pb.METHOD_NONE,
}

# Exit codes by status, as the ccs CLI (client/exit_codes.h) has them.
EXIT_CODES = {
    grpc.StatusCode.INVALID_ARGUMENT: 3,
    grpc.StatusCode.FAILED_PRECONDITION: 3,
    grpc.StatusCode.OUT_OF_RANGE: 3,
    grpc.StatusCode.UNIMPLEMENTED: 3,
    grpc.StatusCode.ALREADY_EXISTS: 3,
    grpc.StatusCode.UNAVAILABLE: 4,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 4,
    grpc.StatusCode.DEADLINE_EXCEEDED: 4,
    grpc.StatusCode.CANCELLED: 4,
    grpc.StatusCode.ABORTED: 4,
    grpc.StatusCode.INTERNAL: 5,
    grpc.StatusCode.UNKNOWN: 5,
    grpc.StatusCode.DATA_LOSS: 5,
    grpc.StatusCode.NOT_FOUND: 6,
    grpc.StatusCode.UNAUTHENTICATED: 7,
    grpc.StatusCode.PERMISSION_DENIED: 7,
}


def stream_text(responses):
    """Prints each streamed piece as it arrives; returns the last message."""
    last = None
    for message in responses:
        sys.stdout.write(message.text)
        sys.stdout.flush()
        last = message
    print()
    return last


def describe_end(last):
    usage = last.usage
    return "[{}: {} tokens, first token {:.1f} ms, total {:.1f} ms]".format(
        pb.FinishReason.Name(last.finish_reason), usage.generated_tokens,
        usage.time_to_first_token_micros / 1000.0, usage.total_micros / 1000.0)


def run(args, stub, text):
    metadata = []
    if args.token:
        metadata.append(("authorization", "Bearer " + args.token))
    call = {"timeout": args.timeout, "metadata": metadata}

    reply = stub.Compress(
        pb.CompressRequest(text=text, method=METHODS[args.method],
                           model=args.model), **call)
    session_id = reply.session_id
    print("session {} ({}): {} tokens -> {} memory vectors".format(
        session_id, pb.Method.Name(reply.method), reply.tokens_in,
        reply.memory_vectors_out))
    try:
        print("question: " + args.question)
        print("answer: ", end="")
        sys.stdout.flush()
        last = stream_text(stub.Generate(
            pb.GenerateRequest(
                session_id=session_id, prompt=args.question.encode("utf-8"),
                sampling=pb.SamplingParams(max_new_tokens=args.max_new_tokens)),
            **call))
        print(describe_end(last))

        print("reconstruction:")
        last = stream_text(stub.Reconstruct(
            pb.ReconstructRequest(session_id=session_id,
                                  max_tokens=args.max_tokens), **call))
        print(describe_end(last))
    finally:
        # The session is deleted even when a step above failed.
        deleted = stub.DeleteSession(
            pb.DeleteSessionRequest(session_id=session_id), **call)
        print("deleted session {} ({} bytes freed)".format(
            session_id, deleted.bytes_freed))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", help="UTF-8 text file to compress")
    parser.add_argument("--server", default="localhost:50051",
                        help="host:port (default %(default)s)")
    parser.add_argument("--question", default="What is this text about?")
    parser.add_argument("--method", choices=sorted(METHODS), default="auto")
    parser.add_argument("--model", default="",
                        help="model name (default: the server's)")
    parser.add_argument("--max_new_tokens", type=int, default=64,
                        help="answer length limit (0: the server's default)")
    parser.add_argument("--max_tokens", type=int, default=0,
                        help="reconstruction length limit (0: about the "
                        "compressed length)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="deadline of each call, seconds")
    parser.add_argument("--token", default=os.environ.get("CCS_TOKEN", ""),
                        help="bearer token (default: env CCS_TOKEN)")
    args = parser.parse_args()

    try:
        with open(args.file, "rb") as f:
            text = f.read()
    except OSError as e:
        print("error: {}".format(e), file=sys.stderr)
        return 1

    with grpc.insecure_channel(args.server) as channel:
        stub = pb_grpc.ContextCompressionStub(channel)
        try:
            run(args, stub, text)
        except grpc.RpcError as e:
            print("\nerror: {}: {}".format(e.code().name, e.details()),
                  file=sys.stderr)
            return EXIT_CODES.get(e.code(), 5)
    return 0


if __name__ == "__main__":
    sys.exit(main())
