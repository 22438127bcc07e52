"""The course-name extractor: BIO data generator, fine-tuning and span-level evaluation."""
