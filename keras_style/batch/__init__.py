"""Bulk stylization with Apache Beam (`pip install 'keras-style[beam]'`).

    from keras_style.batch.beam_pipeline import BatchConfig, run_batch
    run_batch(BatchConfig(input="photos/", model="saved_models/starry_night/saved_model", output_dir="styled"))

Importing this package needs nothing extra; `beam_pipeline` and `model_handler`
need apache-beam. See `beam_pipeline` for runners and example commands.
"""
