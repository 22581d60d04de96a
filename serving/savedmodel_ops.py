"""A SavedModel is a program: check what it would run before ``tf.saved_model.load`` runs any of it.

ONNX, TFLite and ``.keras`` files (loaded in Keras's safe mode) hold no code a scorer would run; a
SavedModel folder's graph can hold any TensorFlow op, ``WriteFile`` or ``PyFunc`` included. So its
``saved_model.pb`` is parsed (protobuf only, nothing executed) and every op of its graph and its
function library must be one that ``export/savedmodel.py`` writes for one of the backbones
(``SERVING_OPS``, read from real exports of each: bilstm, gru, tcn, causal or not). The checkpoint
writer ops (``CHECKPOINT_WRITER_OPS``: SaveV2 and its helpers, which write files) are in every
SavedModel, but only in the save function its ``saver_def`` names, which loading and serving never
call: anywhere else, or a save function called from elsewhere, and the folder is refused. The
scorer's ``--trust_savedmodel`` skips this check, for SavedModels made by other tools.
"""

from pathlib import Path

from serving.artifact import ArtifactError

SERVING_OPS = frozenset(
    {
        "AddN", "AddV2", "AssignVariableOp", "BatchToSpaceND", "BiasAdd", "ConcatOffset", "ConcatV2", "Const",
        "Conv2D", "CudnnRNNBackpropV3", "CudnnRNNV3", "DisableCopyOnRead", "ExpandDims", "Fill", "FloorMod",
        "Identity", "InvertPermutation", "Less", "MatMul", "Mean", "Mul", "NoOp", "Pack", "Pad", "PartitionedCall",
        "Placeholder", "ReadVariableOp", "Relu", "Reshape", "RestoreV2", "ReverseSequence", "ReverseV2", "Select",
        "Shape", "Sigmoid", "Slice", "SpaceToBatchND", "Split", "Squeeze", "StatefulPartitionedCall",
        "StatelessWhile", "StridedSlice", "Sub", "Tanh", "TensorListFromTensor", "TensorListGetItem",
        "TensorListReserve", "TensorListSetItem", "TensorListStack", "Transpose", "Unpack", "VarHandleOp",
        "ZerosLike",
    }
)  # fmt: skip
CHECKPOINT_WRITER_OPS = frozenset(
    {"MergeV2Checkpoints", "SaveV2", "ShardedFilename", "StaticRegexFullMatch", "StringJoin"}
)


def called_functions(nodes) -> set[str]:
    """Names of the library functions ``nodes`` call (any function-valued attribute)."""
    names: set[str] = set()
    for node in nodes:
        for value in node.attr.values():
            if value.HasField("func"):
                names.add(value.func.name)
            names |= {function.name for function in value.list.func}
    return names


def foreign_ops(path: str | Path) -> dict[str, set[str]]:
    """Where the SavedModel folder ``path`` holds ops the exporter does not write: the graph or function
    name -> those ops (empty: the folder is what an export writes)."""
    from tensorflow.core.protobuf import saved_model_pb2

    document = saved_model_pb2.SavedModel()
    document.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    found: dict[str, set[str]] = {}
    for graph in document.meta_graphs:
        save_node = graph.saver_def.save_tensor_name.partition(":")[0]
        top = graph.graph_def.node
        savers = called_functions(node for node in top if node.name == save_node)
        callers = {"graph": called_functions(node for node in top if node.name != save_node)}
        bad = {"graph": {node.op for node in top} - SERVING_OPS}
        for function in graph.graph_def.library.function:
            name = function.signature.name
            allowed = SERVING_OPS | CHECKPOINT_WRITER_OPS if name in savers else SERVING_OPS
            bad[f"function {name}"] = {node.op for node in function.node_def} - allowed
            callers[f"function {name}"] = called_functions(function.node_def)
        for where, calls in callers.items():
            if calls & savers:
                bad[where] = bad[where] | {f"a call of the checkpoint writer {sorted(calls & savers)[0]}"}
        found |= {where: ops for where, ops in bad.items() if ops}
    return found


def check_savedmodel(path: str | Path) -> None:
    """ArtifactError naming the folder and the first offending op when ``foreign_ops`` finds any, or
    when ``saved_model.pb`` is missing or not a SavedModel."""
    try:
        found = foreign_ops(path)
    except OSError as error:
        raise ArtifactError(f"{path}: not a SavedModel folder ({error.strerror or error})") from None
    except Exception as error:  # protobuf's DecodeError: a damaged or foreign file
        raise ArtifactError(f"{path}: saved_model.pb is not a readable SavedModel ({error})") from None
    if found:
        where, ops = sorted(found.items())[0]
        raise ArtifactError(
            f"{path}: its graph runs {', '.join(sorted(ops))} ({where}), which no formscore export writes; "
            "refused, since loading a SavedModel runs its graph (pass --trust_savedmodel to run it anyway)"
        )
