"""Count models (torch + scikit-learn, no Qt): preprocessing, ResNet and SVM, model files, batch scoring."""
