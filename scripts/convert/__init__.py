"""Model conversion: a trained scikit-learn, XGBoost or LightGBM model to a checked model.onnx."""
