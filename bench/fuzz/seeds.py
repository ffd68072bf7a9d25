#!/usr/bin/env python3
"""Writes a seed corpus per fuzz target into DIR/<target>/: small valid files of each format (and
a few that are almost valid), so the fuzzer starts from inputs the readers accept.
Usage: seeds.py DIR [FASHION_MNIST_DIR]"""
import gzip
import json
import os
import struct
import sys

out = sys.argv[1]
data_dir = sys.argv[2] if len(sys.argv) > 2 else "/usr/share/datasets/fashion-mnist"


def put(target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# IDX: the first byte picks labels (odd) or images (even).
images = struct.pack(">IIII", 0x803, 2, 28, 28) + bytes(range(256)) * 6 + bytes(1568 - 1536)
labels = struct.pack(">II", 0x801, 2) + bytes([3, 7])
put("idx", "images", b"\0" + images)
put("idx", "labels", b"\1" + labels)
put("idx", "images_gz", b"\0" + gzip.compress(images))
put("idx", "labels_gz", b"\1" + gzip.compress(labels))
real = os.path.join(data_dir, "t10k-labels-idx1-ubyte.gz")
if os.path.exists(real):  # the Debian data set's test labels, as shipped (gzip'd, 10k labels)
    put("idx", "fashion_t10k_labels_gz", b"\1" + open(real, "rb").read())

# CIFAR-10: two records.
put("cifar", "two_records", bytes([3]) + bytes(range(256)) * 12 + bytes([9]) + bytes(3072))

# safetensors: a tiny checkpoint with metadata, as stuckat writes it.
def safetensors(tensors, meta):
    header, blob = {}, b""
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    return struct.pack("<Q", len(h)) + h + blob

put("safetensors", "tiny", safetensors({"fc.weight": ("F32", [2, 3], struct.pack("<6f", *range(6))),
                                        "fc.bias": ("F32", [2], struct.pack("<2f", 1, 2)),
                                        "prune.fc": ("U8", [2, 3], bytes([1, 0, 1, 1, 1, 0])),
                                        "fault_and.fc": ("I16", [6], struct.pack("<6h", *[-1] * 6))},
                                       {"model": "lenet5", "quant": "q4.11", "epochs": "3"}))
put("safetensors", "f16", safetensors({"w": ("F16", [4], struct.pack("<4e", 1, -2, 0.5, 65504))}, {"quant": "fp16"}))

# Matrix Market and .npy.
put("mtx", "real", b"%%MatrixMarket matrix coordinate real general\n% comment\n4 5 3\n1 1 1.5\n2 3 -2\n4 5 1e-3\n")
put("mtx", "pattern", b"%%MatrixMarket matrix coordinate pattern general\n3 3 2\n1 2\n3 1\n")

def npy(descr, shape, raw):
    h = ("{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)).encode()
    h += b" " * (63 - len(h) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + raw

put("npy", "f32", npy("<f4", "(2, 3)", struct.pack("<6f", 0, 1, 0, 0, 2.5, 0)))
put("npy", "f64", npy("<f8", "(3, 1)", struct.pack("<3d", 1, 0, 3)))

# Fault specs.
for i, s in enumerate(["layer=conv2,bit=15,stuck=1,rate=0.01,seed=0",
                       "layer=all,bit=random,stuck=mix:1.75:9.04,rate=0.01,seed=3,target=nonzero",
                       "layer=fc1,bit=3,stuck=0,rate=1"]):
    put("fault_spec", "spec%d" % i, s.encode())

# A sweep CSV as `stuckat sweep` writes it, with a partial last line.
csv = ("index,model,layer,bit,stuck,rate,seed,format,faulty_weights,changed_weights,test_acc,test_loss,nan\n"
       "0,lenet5,baseline,,,0,,q4.11,0,0,0.8275,0.489612719,0\n"
       "1,lenet5,conv1,15,1,0.01,0,q4.11,1,1,0.8201,0.51,0\n"
       "2,lenet5,conv1,15,1,0.05,0,q4.11,7,7,0.1,nan,1\n"
       "3,lenet5,conv")
put("sweep_csv", "rows", csv.encode())

# A training run's metrics.jsonl as `stuckat train` writes it (a NaN is written as null).
metrics = ('{"epoch":1,"train_loss":0.61,"train_acc":0.78,"test_acc":0.8275,"test_loss":0.4896,"images_per_s":20561.3}\n'
           '{"epoch":2,"train_loss":0.42,"train_acc":0.85,"test_acc":0.8512,"test_loss":null,"images_per_s":21002.0}\n')
put("metrics", "rows", metrics.encode())

# ONNX models: a few cases of the ONNX project's test suite (Debian's libonnx-testdata) whose ops
# stuckat runs: convolutions, pools, Gemm, batch norm, reshapes, and PyTorch-converted layers.
testdata = "/usr/share/libonnx-testdata/data"
for case in ["node/test_conv_with_strides_and_asymmetric_padding", "node/test_maxpool_2d_pads",
             "node/test_averagepool_2d_pads_count_include_pad", "node/test_gemm_all_attributes",
             "node/test_batchnorm_example", "node/test_reshape_negative_dim", "node/test_concat_2d_axis_1",
             "node/test_softmax_axis_1", "pytorch-converted/test_Conv2d_depthwise_padded",
             "pytorch-converted/test_PReLU_2d", "pytorch-operator/test_operator_flatten"]:
    path = os.path.join(testdata, case, "model.onnx")
    if os.path.exists(path):
        put("onnx", case.replace("/", "_"), open(path, "rb").read())
