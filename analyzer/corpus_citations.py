"""Where the corpus shows each rule: the compiled pairs (`pairs/<repo>@<commit>/<file>#<op>`)
and compiler logs (`logs/<file>`) in which the compiler applies the rule or holds to its
boundary, by rule name. Kept as data apart from the rules, whose code never names a model;
the rules join these to their own citations, and docs/edgetpu-rules.md resolves them all."""

SEEN_IN: dict[str, tuple[str, ...]] = {
    "quantize_from_integer": (
        "pairs/LeNet_TFLite@58c09cc/converted_model-int8.tflite#0",
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#0",
        "logs/id-card-matching__model_edgetpu.log",
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#0",
    ),
    "eight_bit_tensors": (
        "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite#70",
        "pairs/LeNet_TFLite@58c09cc/converted_model.tflite#0",
        "pairs/MyYolov5@0667147/yolov5n-fp16.tflite#0",
        "logs/Helmet-Detection__models__model_edgetpu.log",
    ),
    "supported_operation": (
        "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/yolov10n_full_integer_quant.tflite#254",
    ),
    "op_in_target_runtime": (
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#96",
    ),
    "op_version": (
        "logs/issue-edgetpu-420.log",
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#128",
    ),
    "kernel_version": (
        "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov10n_saved_model/yolov10n_full_integer_quant.tflite#18",
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#18",
    ),
    "three_innermost_dims": (
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#114",
    ),
    "constant_weights": (
        "logs/issue-edgetpu-27.log",
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#107",
    ),
    "one_dimensional_output": (
        "logs/issue-edgetpu-27.log",
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#92",
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#116",
    ),
    "plain_strided_slice": (
        "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov8n_saved_model/yolov8n_full_integer_quant.tflite#11",
    ),
    "reduction_axes": (
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#82",
    ),
    "pad_dimensions": (
        "pairs/EdgeTPU_Analysis/InOut/model_padding/model_padding_128x128x3.tflite#0",
    ),
    "split_not_along_first_axis": (
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#99",
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#123",
    ),
    "softmax_size": (
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#116",
    ),
    "bilinear_resize_ratio": (
        "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite#63",
    ),
    "transpose_size": (
        "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov8n_saved_model/yolov8n_full_integer_quant.tflite#232",
        "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov5nu_saved_model/yolov5nu_full_integer_quant.tflite#254",
        "pairs/EdgeTPU-MOT@03eb91d/server_script/yolov5nu_saved_model/yolov5nu_full_integer_quant.tflite#237",
    ),
    "reshape_size": (
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#258",
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#238",
        "logs/road-signs-recognition-model__yolov5s-int8_edgetpu.log",
    ),
    "row_size": (
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#256",
        "pairs/MyYolov5@0667147/yolov5n-int8.tflite#236",
        "pairs/Segments-Runner@25720c2/test_data/model/tf2_ssd_mobilenet_v2_coco17_ptq_segment_2_of_3.tflite#27",
        "logs/road-signs-recognition-model__yolov5s-int8_edgetpu.log",
    ),
    "model_quantized": (
        "logs/issue-edgetpu-168.log",
        "logs/issue-edgetpu-708-a.log",
        "pairs/LeNet_TFLite@58c09cc/converted_model.tflite#0",
        "pairs/MyYolov5@0667147/yolov5n-fp16.tflite#0",
    ),
    "parsable_op_versions": (
        "pairs/Coral-TPU@2facb8a/transformer/efficient_l3.tflite#86",
    ),
    "static_shapes": (
        "logs/issue-edgetpu-829.log",
    ),
    "after_partition": (
        "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite#65",
    ),
    "cpu_tail_advice": (
        "pairs/edgetpu/deeplabv3_mnv2_pascal_quant.tflite#70",
    ),
}
