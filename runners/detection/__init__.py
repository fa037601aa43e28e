"""Object detection: Pascal VOC data -> SSD detector -> float / int8 TFLite with
`TFLite_Detection_PostProcess` -> COCO metrics (pycocotools) -> Edge TPU verdict.

It retraces the study where EfficientDet-Lite3 was trained on 150 Pascal VOC car/truck images,
measured with the COCO table before and after full-integer quantization, then compiled for the
Edge TPU. Here the data is generated (Fashion-MNIST objects pasted on varied backgrounds,
written as JPEG + VOC XML, split 110/20/20), the detector is an SSD with a MobileNetV2 backbone
trained from scratch on CPU, and the pipeline's compile stage analyses the exported `.tflite`.
A variant can instead bring its own dataset (VOC, COCO `.json`, `.csv`) and detector.

The experiment runs as ordinary pipeline stages (runners/stages/detection_*.py: dataset, train,
export, evaluate), planned by runners/plan.py from the variant's parameters (params.py) and
cached like every other step. Nothing here imports TensorFlow at import time.
"""
