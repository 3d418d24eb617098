"""The start baseline of the runtime benchmarks: the least a script can do with ai-edge-litert to print a first
label (load, resize, invoke, argmax). Run as ``python -c MINIMAL MODEL IMAGE T0 THREADS``; T0 is the caller's
clock at exec, for callers that time the start from outside."""

MINIMAL = r"""
import sys, time
t0 = float(sys.argv[3])
import cv2, numpy as np
from ai_edge_litert.interpreter import Interpreter
it = Interpreter(model_path=sys.argv[1], num_threads=int(sys.argv[4]))
it.allocate_tensors()
inp, out = it.get_input_details()[0], it.get_output_details()[0]
_, h, w, _ = inp["shape"]
img = cv2.resize(cv2.cvtColor(cv2.imread(sys.argv[2]), cv2.COLOR_BGR2RGB), (int(w), int(h)))
it.set_tensor(inp["index"], img[None].astype(inp["dtype"]))
it.invoke()
scores = it.get_tensor(out["index"])[0]
print(int(np.argmax(scores)), flush=True)
"""
